"""Artifact watching: files that appear in the session's out folder become `artifact` events.

The agent loop already reports what write_file and run_command wrote; this watch (the task
`artifact-watch`) catches the rest, such as files a background process leaves behind. A file
is reported once it has settled (the same size, time and inode for `SETTLE_S`), under the
agent whose folder holds it, with its path relative to the out root. The supervisor drops a
report whose agent, path and sha256 are already recorded (`already_reported`), so a file is
never reported twice with the same content. Before an agent's `agent_finished` the supervisor
sweeps its folder (`sweep`), so a file written just before the end is recorded and handed along
too. Ignored: the out root's `inputs/` folder, files directly in the out root or in folders of
no agent, hidden files and folders (`.name`), temporary files (`*.tmp`, `*~`), symlinks and the
folders themselves.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import FleetState

SETTLE_S = 0.2
STEP_MS = 50
MAX_GROUP_MS = 400
INPUTS = "inputs"
CHUNK = 1 << 20

Signature = tuple[int, int, int]


def already_reported(state: FleetState, artifact: ev.Artifact) -> bool:
    """Whether the agent's artifacts already hold this path with this content."""
    agent = state.agents.get(artifact.agent)
    return agent is not None and any(a.path == artifact.path and a.sha256 == artifact.sha256 for a in agent.artifacts)


class ArtifactWatch:
    """Watches an out root and reports each settled file through `report`."""

    def __init__(
        self, out_root: Path, is_agent: Callable[[str], bool], report: Callable[[ev.Artifact], object]
    ) -> None:
        self.out_root = out_root
        self.is_agent = is_agent
        self.report = report
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._settling: dict[Path, asyncio.Task[None]] = {}

    def start(self) -> None:
        self.task = asyncio.create_task(self._watch(), name="artifact-watch")

    async def stop(self) -> None:
        """Stop watching and drop files still settling."""
        await cancel_and_drain(self.task, *self._settling.values())

    async def _watch(self) -> None:
        # awatch places its inotify watches before it first waits, so `ready` holds once this task yields.
        self.ready.set()
        async for changes in awatch(self.out_root, watch_filter=None, step=STEP_MS, debounce=MAX_GROUP_MS):
            for change, raw in changes:
                if change != Change.deleted:
                    self._changed(Path(raw))

    def _changed(self, path: Path) -> None:
        try:
            mode = path.lstat().st_mode
        except OSError:
            return
        if stat.S_ISDIR(mode) and self._agent_folder(path):
            self._scan(path)
        elif stat.S_ISREG(mode) and path not in self._settling and self.owner(path) is not None:
            self._settling[path] = asyncio.create_task(self._settle(path), name="artifact-settle")

    def _scan(self, folder: Path) -> None:
        """Pick up files made in a new folder before its own watch was in place."""
        for path in _files(folder):
            self._changed(path)

    async def sweep(self, agent: str) -> None:
        """Report every file now in the agent's folder, settled or not; `report` drops what is already recorded."""
        for path in await asyncio.to_thread(_files, self.out_root / agent):
            if self.owner(path) == agent:
                try:
                    size, sha256 = await digest(path)
                except OSError:
                    continue
                self._report(path, size, sha256)

    def owner(self, path: Path) -> str | None:
        """The agent a file under the out root belongs to, or None when the file is ignored."""
        parts = self._parts(path)
        if len(parts) < 2 or parts[-1].endswith((".tmp", "~")):
            return None
        return parts[0]

    def _agent_folder(self, path: Path) -> bool:
        return bool(self._parts(path))

    def _parts(self, path: Path) -> tuple[str, ...]:
        """The path's parts below the out root, or () when it lies outside an agent's folder or is hidden."""
        try:
            parts = path.relative_to(self.out_root).parts
        except ValueError:
            return ()
        if not parts or parts[0] == INPUTS or any(p.startswith(".") for p in parts) or not self.is_agent(parts[0]):
            return ()
        return parts

    async def _settle(self, path: Path) -> None:
        try:
            await self._report_when_settled(path)
        except OSError:
            return
        finally:
            self._settling.pop(path, None)

    async def _report_when_settled(self, path: Path) -> None:
        seen = _signature(path)
        while seen is not None:
            await asyncio.sleep(SETTLE_S)
            now = _signature(path)
            if now != seen:
                seen = now
                continue
            size, sha256 = await digest(path)
            now = _signature(path)
            if now == seen:
                self._report(path, size, sha256)
                return
            seen = now

    def _report(self, path: Path, size: int, sha256: str) -> None:
        agent = self.owner(path)
        if agent is not None:
            relative = path.relative_to(self.out_root).as_posix()
            self.report(ev.Artifact(agent=agent, path=relative, bytes=size, sha256=sha256))


def _files(folder: Path) -> list[Path]:
    """The files below `folder`, hidden folders skipped, symlinked folders not followed."""
    found = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(Path(top) / name for name in files)
    return found


def _signature(path: Path) -> Signature | None:
    try:
        info = path.lstat()
    except OSError:
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ino) if stat.S_ISREG(info.st_mode) else None


async def digest(path: Path) -> tuple[int, str]:
    """Size and sha256 of a regular file, read in a thread; OSError when it is gone or not a regular file."""
    stop = threading.Event()
    try:
        return await asyncio.to_thread(_digest, path, stop)
    finally:
        stop.set()


def _digest(path: Path, stop: threading.Event) -> tuple[int, str]:
    """Read without following a symlink or waiting on a FIFO or device, until done or `stop` is set."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        sha, size = hashlib.sha256(), 0
        while not stop.is_set() and (chunk := file.read(CHUNK)):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()
