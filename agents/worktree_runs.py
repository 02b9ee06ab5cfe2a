"""The session's coding agents and their worktrees: made before they start, delivered as diffs, merged, cleaned up.

The supervisor owns one `AgentWorktrees`. Merges run as tasks named `merge:<agent>`, drained when
the session ends. A merge that cannot be made is recorded by re-reporting the diff artifact with
`refused` saying why; a made one by an `artifact_review` whose note names the new head.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

from tokenmaxx.agents.merging import diff_of, merge, merged_tree
from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.plan_models import AGENT_BASE, AgentSpec
from tokenmaxx.agents.worktrees import GitError, Worktree, commit_all, create_worktree, has_uncommitted, remove_worktree
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import ArtifactInfo, FleetState

DIFF_FILE = "changes.diff"
REWORK_PREFIX = "Your diff was rejected by the reviewer. Rework it in your worktree: "
logger = logging.getLogger(__name__)


def rework_text(note: str) -> str:
    """The reprompt a rejected diff's note becomes."""
    return REWORK_PREFIX + note


def diff_artifact(state: FleetState, agent: str) -> ArtifactInfo | None:
    """The agent's latest diff deliverable, if it has one."""
    info = state.agents.get(agent)
    diffs = [a for a in info.artifacts if a.diff is not None] if info is not None else []
    return diffs[-1] if diffs else None


class AgentWorktrees:
    """The worktrees of one session's coding agents, by agent name."""

    def __init__(self, plan: Plan, session_id: str, out_root: Path, emit: Callable[[ev.Event], object], state: Callable[[], FleetState]) -> None:
        self.plan = plan
        self.session_id = session_id
        self.out_root = out_root
        self.emit = emit
        self.state = state
        self.trees: dict[str, Worktree] = {}
        self.merges: set[asyncio.Task[None]] = set()

    def get(self, agent: str) -> Worktree | None:
        return self.trees.get(agent)

    def in_review(self) -> list[str]:
        """The agents whose latest diff waits for a verdict (or for its merge to finish)."""
        return [agent for agent in self.trees if (artifact := diff_artifact(self.state(), agent)) is not None and artifact.verdict is None]

    async def prepare(self, spec: AgentSpec) -> None:
        """Make the agent's worktree once, when the plan gives it one; GitError saying why it cannot."""
        if self.plan.workspace_for(spec) != "worktree" or spec.name in self.trees:
            return
        upstream = None
        if spec.base is not None and spec.base.startswith(AGENT_BASE):
            upstream = self.trees.get(spec.base[len(AGENT_BASE) :])
        self.trees[spec.name] = await create_worktree(self.plan.workdir, self.session_id, spec.name, spec.base, upstream)

    async def deliver(self, agent: str) -> None:
        """Commit what the agent left and report its changes against the base as a `diff` artifact."""
        tree = self.trees.get(agent)
        if tree is None:
            return
        await commit_all(tree, agent, self.session_id)
        summary, patch = await diff_of(tree)
        if summary.files:
            await self._report(agent, summary, patch)

    async def _report(self, agent: str, summary: ev.DiffSummary, patch: str) -> None:
        data = patch.encode("utf-8", errors="replace")
        folder = self.out_root / agent
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread((folder / DIFF_FILE).write_bytes, data)
        sha = hashlib.sha256(data).hexdigest()
        known = diff_artifact(self.state(), agent)
        if known is not None and known.sha256 == sha and known.diff == summary and known.verdict is None:
            return
        self.emit(ev.Artifact(agent=agent, path=f"{agent}/{DIFF_FILE}", bytes=len(data), sha256=sha, diff=summary))

    def accept(self, agent: str, artifact: ArtifactInfo) -> None:
        """Merge the diff in a task of its own; the outcome arrives as events."""
        task = asyncio.create_task(self._merge(agent, artifact), name=f"merge:{agent}")
        self.merges.add(task)
        task.add_done_callback(self.merges.discard)

    async def _merge(self, agent: str, artifact: ArtifactInfo) -> None:
        tree = self.trees[agent]
        message = f"Merge {tree.branch}: accepted work of agent {agent} (tokenmaxx session {self.session_id})"
        try:
            head = await merge(tree, self.plan.merge, message)
        except GitError as error:
            self._refused(agent, artifact, str(error))
            return
        note = f"merged into {tree.target} ({self.plan.merge}) at {head[:12]}"
        self.emit(ev.ArtifactReview(agent=agent, path=artifact.path, verdict="accepted", note=note))
        await self._recheck(agent)

    def _refused(self, agent: str, artifact: ArtifactInfo, why: str) -> None:
        assert artifact.diff is not None
        diff = artifact.diff.model_copy(update={"applies": False, "refused": why})
        self.emit(ev.Artifact(agent=agent, path=artifact.path, bytes=artifact.bytes, sha256=artifact.sha256, diff=diff))

    async def _recheck(self, merged: str) -> None:
        """After a merge, report again whether each diff still in review applies to its moved target."""
        for agent, tree in self.trees.items():
            artifact = diff_artifact(self.state(), agent)
            if agent == merged or artifact is None or artifact.verdict is not None or tree.target is None:
                continue
            applies = (await merged_tree(tree, tree.target))[0] is not None
            if artifact.diff is not None and applies != artifact.diff.applies:
                diff = artifact.diff.model_copy(update={"applies": applies})
                self.emit(ev.Artifact(agent=agent, path=artifact.path, bytes=artifact.bytes, sha256=artifact.sha256, diff=diff))

    async def close(self) -> list[str]:
        """Finish the merges, then remove reviewed agents' worktrees (unless the plan keeps them); notes on what stays."""
        await asyncio.gather(*self.merges, return_exceptions=True)
        if self.plan.keep_worktrees:
            return [f"{agent}: worktree kept at {tree.path} (keep_worktrees = true)" for agent, tree in self.trees.items()]
        notes = []
        for agent, tree in self.trees.items():
            note = await self._clean(agent, tree)
            if note:
                notes.append(note)
        return notes

    async def _clean(self, agent: str, tree: Worktree) -> str:
        """Remove one agent's worktree and branch when its diff was reviewed, or it changed nothing; else say why it stays."""
        artifact = diff_artifact(self.state(), agent)
        try:
            if tree.path.exists() and await has_uncommitted(tree.path):
                return f"{agent}: worktree {tree.path} kept: it holds uncommitted changes"
            if artifact is not None and artifact.verdict is None:
                return f"{agent}: branch {tree.branch} kept for review (worktree {tree.path})"
            await remove_worktree(tree.repo, tree.path, tree.branch)
        except GitError as error:
            logger.warning("cannot remove the worktree of %s: %s", agent, error)
            return f"{agent}: worktree {tree.path} not removed: {error}"
        return ""
