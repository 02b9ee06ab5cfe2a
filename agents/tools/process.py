"""Running a command in its own process group, with a timeout and capped output.

When the command ends, times out or its task is cancelled, the whole group is sent SIGTERM, then
SIGKILL after a short grace, and the shell is reaped before `run_in_group` returns or re-raises.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

KILL_GRACE_S = 0.5
PIPE_GRACE_S = 0.5
POLL_S = 0.02


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How a command ended: its capped output, exit code (negative: killed by that signal), timeout."""

    output: str
    returncode: int
    timed_out: bool


class CappedOutput:
    """Keeps the first `cap` characters of a byte stream and counts the characters past them."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._kept: list[str] = []
        self._kept_chars = 0
        self.dropped_chars = 0

    def feed(self, chunk: bytes, final: bool = False) -> None:
        """Decode a chunk and keep what fits under the cap."""
        text = self._decoder.decode(chunk, final=final)
        room = self._cap - self._kept_chars
        if room > 0:
            self._kept.append(text[:room])
            self._kept_chars += min(room, len(text))
        self.dropped_chars += max(0, len(text) - max(room, 0))

    def text(self) -> str:
        """The kept characters, with a note saying how many more there were."""
        self.feed(b"", final=True)
        kept = "".join(self._kept)
        if self.dropped_chars:
            return f"{kept}\n[truncated: {self.dropped_chars} more characters]"
        return kept


class _GroupProtocol(asyncio.SubprocessProtocol):
    """Feeds the command's output into a cap and says when the shell exited and its pipe closed."""

    def __init__(self, cap: int) -> None:
        self.output = CappedOutput(cap)
        self.exited = asyncio.Event()
        self.closed = asyncio.Event()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        self.output.feed(bytes(data))

    def process_exited(self) -> None:
        self.exited.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


async def run_in_group(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout_s: float, cap: int
) -> CommandResult:
    """Run `argv` in a new session with exactly `env`; end its whole group when it ends or is cancelled."""
    start = asyncio.ensure_future(asyncio.get_running_loop().subprocess_exec(
        lambda: _GroupProtocol(cap),
        *argv,
        cwd=cwd, env=dict(env), start_new_session=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    ))  # fmt: skip
    transport, group, cancelled = await _started(start)
    timed_out = False
    try:
        if cancelled:  # cancelled while the shell was starting: it may already run children
            raise asyncio.CancelledError
        async with asyncio.timeout(timeout_s):
            await group.exited.wait()
            await _wait_event(group.closed, PIPE_GRACE_S)
    except TimeoutError:
        timed_out = True
    finally:
        try:
            await end_group(transport.get_pid(), group)
            await _wait_event(group.closed, PIPE_GRACE_S)
        finally:
            transport.close()
    returncode = transport.get_returncode()
    assert returncode is not None
    return CommandResult(group.output.text(), returncode, timed_out)


async def _started(
    start: asyncio.Future[tuple[asyncio.SubprocessTransport, _GroupProtocol]],
) -> tuple[asyncio.SubprocessTransport, _GroupProtocol, bool]:
    """The started shell, even when cancelled meanwhile (it runs, and may have started children,
    before the start returns under load): the caller then ends its group and re-raises."""
    cancelled = False
    while True:
        try:
            transport, group = await asyncio.shield(start)
        except asyncio.CancelledError:
            if start.cancelled():
                raise
            cancelled = True
        except Exception:
            if cancelled:  # the shell never started, but the caller was cancelled meanwhile: that wins
                raise asyncio.CancelledError from None
            raise
        else:
            return transport, group, cancelled


async def end_group(pgid: int, group: _GroupProtocol, grace_s: float = KILL_GRACE_S) -> None:
    """SIGTERM the process group, SIGKILL what is left after `grace_s`, and wait until the shell is reaped."""
    try:
        signal_group(pgid, signal.SIGTERM)
        if not await group_gone(pgid, grace_s):
            signal_group(pgid, signal.SIGKILL)
            await group_gone(pgid, grace_s)
    except asyncio.CancelledError:
        await _killed(pgid, group, grace_s)
        raise
    await _reaped(pgid, group)


def signal_group(pgid: int, signum: signal.Signals) -> None:
    """Send a signal to a process group that may already be gone."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies waiting to be reaped do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not os.path.isdir("/proc"):
        return True
    with os.scandir("/proc") as scan:
        return any(_live_member(entry.name, pgid) for entry in scan if entry.name.isdigit())


def _live_member(pid: str, pgid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return int(fields[2]) == pgid and fields[0] not in (b"Z", b"X")


async def group_gone(pgid: int, timeout_s: float) -> bool:
    """Whether the process group is gone within `timeout_s` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while group_alive(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True


async def _reaped(pgid: int, group: _GroupProtocol) -> None:
    """Wait until the shell is reaped, even through repeated cancellation, then re-raise that."""
    cancelled = False
    while not group.exited.is_set():
        try:
            await group.exited.wait()
        except asyncio.CancelledError:
            cancelled = True
            signal_group(pgid, signal.SIGKILL)
    if cancelled:
        raise asyncio.CancelledError


async def _killed(pgid: int, group: _GroupProtocol, grace_s: float) -> None:
    """SIGKILL the group and wait, through any further cancellation, until the shell is reaped and
    every other member is gone too (a kill is delivered, not instant)."""
    signal_group(pgid, signal.SIGKILL)
    try:
        await _reaped(pgid, group)
    except asyncio.CancelledError:
        pass
    deadline = time.monotonic() + grace_s
    while group_alive(pgid) and time.monotonic() < deadline:
        signal_group(pgid, signal.SIGKILL)
        try:
            await asyncio.sleep(POLL_S)
        except asyncio.CancelledError:
            pass


async def _wait_event(event: asyncio.Event, timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        pass
