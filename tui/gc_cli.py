"""`tokenmaxx gc`: list, and when told remove, the worktrees and branches of sessions that no longer run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tokenmaxx.agents.serve import socket_alive
from tokenmaxx.agents.wire import socket_path
from tokenmaxx.agents.worktree_gc import Leftover, leftovers, remove
from tokenmaxx.agents.worktrees import GitError

Echo = Callable[..., None]


def collect_garbage(workdir: Path, *, yes: bool, force: bool, echo: Echo) -> int:
    """Exit code 0 when done (or nothing to do), 2 for a user error such as no repository."""
    try:
        return asyncio.run(_collect(workdir, yes=yes, force=force, echo=echo))
    except GitError as error:
        echo(f"tokenmaxx gc: {error}", err=True)
        return 2


async def _collect(workdir: Path, *, yes: bool, force: bool, echo: Echo) -> int:
    repo, found = await leftovers(workdir, lambda session: socket_alive(socket_path(session)))
    if not found:
        echo(f"no tokenmaxx worktrees or branches left in {repo}")
        return 0
    for leftover in found:
        echo(_line(leftover))
    if not yes:
        echo("run tokenmaxx gc --yes to remove them (worktrees with uncommitted changes need --force too)")
        return 0
    for leftover in found:
        if leftover.uncommitted and not force:
            echo(f"kept {leftover.branch}: its worktree holds uncommitted changes (add --force to remove it)")
            continue
        await remove(repo, leftover)
        echo(f"removed {leftover.branch}")
    return 0


def _line(leftover: Leftover) -> str:
    where = f"worktree {leftover.path}" if leftover.path is not None else "no worktree"
    dirty = ", UNCOMMITTED CHANGES" if leftover.uncommitted else ""
    return f"{leftover.branch}  ({where}{dirty})"
