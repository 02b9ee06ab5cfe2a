"""What crashed sessions left in a repository: tokenmaxx's worktrees and branches, found and removed.

A leftover whose worktree holds uncommitted changes is removed only when asked to (`force`);
a session whose fleet still runs (its socket answers) is never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tokenmaxx.agents.worktrees import BRANCH_PREFIX, git_out, has_uncommitted, list_worktrees, remove_worktree, repo_root


@dataclass(frozen=True, slots=True)
class Leftover:
    """A tokenmaxx branch, its worktree if it still has one, and whether that holds uncommitted work."""

    branch: str
    path: Path | None
    uncommitted: bool

    @property
    def session(self) -> str:
        return self.branch[len(BRANCH_PREFIX) :].split("/", 1)[0]


async def leftovers(workdir: Path, running: Callable[[str], bool]) -> tuple[Path, list[Leftover]]:
    """The repository holding `workdir` and the tokenmaxx branches in it of sessions not running now."""
    repo = await repo_root(workdir)
    trees = {w.branch: w.path for w in await list_worktrees(repo) if w.branch and w.branch.startswith(BRANCH_PREFIX)}
    names = (await git_out(repo, "for-each-ref", "--format=%(refname:short)", f"refs/heads/{BRANCH_PREFIX}")).splitlines()
    found = []
    for branch in sorted(set(names) | set(trees)):
        path = trees.get(branch)
        uncommitted = path is not None and path.exists() and await has_uncommitted(path)
        leftover = Leftover(branch, path, uncommitted)
        if not running(leftover.session):
            found.append(leftover)
    return repo, found


async def remove(repo: Path, leftover: Leftover) -> None:
    """Remove a leftover's worktree (uncommitted changes included: the caller asked) and its branch."""
    path = leftover.path if leftover.path is not None else Path("/nonexistent")
    await remove_worktree(repo, path, leftover.branch)
