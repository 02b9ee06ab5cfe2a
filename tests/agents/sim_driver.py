"""A tiny agent loop for sim tests: stream a reply, run its tool calls with the real tools, repeat."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tokenmaxx.agents.history import HistorySnapshots
from tokenmaxx.agents.plan_models import AgentSpec
from tokenmaxx.agents.providers.base import (
    Message,
    ModelRequest,
    ProviderEvent,
    ReplyAccumulator,
    TextPart,
    ToolResultPart,
    Usage,
)
from tokenmaxx.agents.providers.sim import SimProvider
from tokenmaxx.agents.tools import Workspace, run_tool, tool_specs
from tokenmaxx.agents.tools.workspace import HistoryCopy
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.store import Store

ALL_TOOLS = ("read_file", "list_files", "write_file", "run_command")
SYSTEM = "You are an agent in a simulated fleet. Use the tools to do the task."


@dataclass
class Transcript:
    """What one driven run produced: the conversation, every reply's text and usage."""

    messages: list[Message]
    texts: list[str] = field(default_factory=list)
    usages: list[Usage] = field(default_factory=list)
    stops: list[str] = field(default_factory=list)

    @property
    def final_text(self) -> str:
        return self.texts[-1]


def request(agent: str, role: str, messages: list[Message] | tuple[Message, ...]) -> ModelRequest:
    """A model request as the agent loop would send it."""
    return ModelRequest(
        model="sim-sonnet", system=SYSTEM, messages=tuple(messages), tools=tool_specs(ALL_TOOLS), agent=agent, role=role
    )


async def collect(provider: SimProvider, req: ModelRequest) -> list[ProviderEvent]:
    """Every event of one streamed reply."""
    return [event async for event in provider.stream(req)]


async def drive(
    provider: SimProvider,
    *,
    agent: str,
    role: str,
    task: str,
    project: Path,
    out_root: Path,
    max_turns: int = 12,
    history: HistoryCopy | None = None,
) -> Transcript:
    """Run an agent until it stops calling tools; fails the test if it needs more than `max_turns`."""
    ws = Workspace(project=project, out_root=out_root, agent=agent, command_timeout_s=60, history=history)
    transcript = Transcript([Message("user", (TextPart(task),))])
    for _ in range(max_turns):
        reply = ReplyAccumulator()
        async for event in provider.stream(request(agent, role, transcript.messages)):
            reply.add(event)
        transcript.messages.append(reply.message())
        transcript.texts.append("".join(reply.text))
        assert reply.usage is not None
        transcript.usages.append(reply.usage)
        transcript.stops.append(reply.stop)
        if not reply.calls:
            return transcript
        results = []
        for call in reply.calls:
            outcome = await run_tool(call.name, call.args, ws)
            results.append(ToolResultPart(call.call_id, outcome.output, outcome.ok))
        transcript.messages.append(Message("user", tuple(results)))
    raise AssertionError(f"{agent} did not finish within {max_turns} turns")


async def failure_db(path: Path, events: list[ev.Event]) -> Path:
    """A session database, written by the real store, holding these events as one session."""
    async with await Store.open(path) as store:
        for event in events:
            store.append("s1", event)
    return path


@asynccontextmanager
async def recorded_history(db: Path | None) -> AsyncIterator[HistorySnapshots]:
    """The history snapshots of a fleet recording to `db` (None: to no database), removed at the end."""
    store = None if db is None else await Store.open(db)
    snapshots = HistorySnapshots(store)
    try:
        yield snapshots
    finally:
        await snapshots.close()
        if store is not None:
            await store.close()


async def drive_spec(
    provider: SimProvider, spec: AgentSpec, snapshots: HistorySnapshots, project: Path, out_root: Path
) -> Transcript:
    """Drive one agent of a plan as the fleet starts it: with a fresh history snapshot when its entry asks for one."""
    await snapshots.take(spec)
    history = snapshots.copy_for(spec.name)
    return await drive(
        provider, agent=spec.name, role=spec.role, task=spec.task, project=project, out_root=out_root, history=history
    )


def git(repo: Path, *args: str, day: str | None = None) -> str:
    """Run git in `repo` as a test author, dated `day` (noon UTC)."""
    env = {**os.environ, "GIT_AUTHOR_DATE": f"{day}T12:00:00+00:00", "GIT_COMMITTER_DATE": f"{day}T12:00:00+00:00"}
    config = ["-c", "user.name=T", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    done = subprocess.run(["git", *config, *args], cwd=repo, env=env, check=True, capture_output=True, text=True)
    return done.stdout


def commit(repo: Path, day: str, files: dict[str, str | bytes | None], *, empty: bool = False) -> None:
    """Write (or with None, delete) files and commit them on `day`."""
    for name, content in files.items():
        if content is None:
            git(repo, "rm", "-q", name)
            continue
        target = repo / name
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
        git(repo, "add", name)
    git(repo, "commit", "-q", "--no-verify", *(["--allow-empty"] if empty else []), "-m", f"work on {day}", day=day)


def lines(count: int, word: str = "line") -> str:
    """A text of `count` numbered lines."""
    return "".join(f"{word} {n}\n" for n in range(count))


# expected lines of code after each commit day, counted by hand from the commits below
EXPECTED_LOC = {"2024-05-01": 18, "2024-05-03": 18, "2024-05-04": 9, "2024-05-06": 16}


def history_repo(path: Path) -> Path:
    """Commits on four days: two on the first, an empty one, a binary file with a deletion, a rewrite."""
    path.mkdir()
    git(path, "init", "-q")
    commit(path, "2024-05-01", {"a.py": lines(10), "b.txt": lines(5)})
    commit(path, "2024-05-01", {"c.md": lines(3)})
    commit(path, "2024-05-03", {}, empty=True)
    commit(path, "2024-05-04", {"logo.png": b"\x89PNG\0\0binary", "b.txt": None, "a.py": lines(6)})
    commit(path, "2024-05-06", {"c.md": lines(10, "row")})
    return path
