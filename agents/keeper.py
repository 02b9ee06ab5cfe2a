"""Starting a fleet process detached from the terminal, and ending whatever it leaves behind when it dies.

    launch(run, ready)   in the launcher: fork the keeper, return 0 once `ready()`, else the keeper's exit code
    keep(run)            in the keeper: a subreaper whose child runs `run()`; when that child dies,
                         however it dies (`kill -9` included), every process it left is killed

An agent's commands run in process groups of their own, outside the fleet's, so a fleet killed
outright would leave them running: the keeper is their subreaper (Linux), so they become its
children once the fleet is gone, and it kills their groups. The fleet dies with its keeper
(PR_SET_PDEATHSIG). Where prctl is missing, the keeper still waits, but cannot adopt orphans.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
READY_POLL_S = 0.05
FORWARDED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def launch(run: Callable[[], int], ready: Callable[[], bool], timeout_s: float) -> int:
    """Fork the keeper of `run`; 0 once `ready()` holds, the keeper's exit code if it ends first, 1 on timeout."""
    keeper = os.fork()
    if keeper == 0:
        _exit_with(lambda: keep(run))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid, status = os.waitpid(keeper, os.WNOHANG)
        if pid:
            return _exit_code(status) or 1
        if ready():
            return 0
        time.sleep(READY_POLL_S)
    print(f"tokenmaxx: the fleet process (pid {keeper}) did not start serving within {timeout_s:.0f} s", file=sys.stderr)
    return 1


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent dies, however the parent dies (Linux; a no-op elsewhere)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def keep(run: Callable[[], int]) -> int:
    """Run `run()` in a child, forward stop signals to it, reap everything, and kill what it left once it ends."""
    os.setsid()
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    keeper = os.getpid()
    fleet = os.fork()
    if fleet == 0:
        die_with_parent()
        if os.getppid() != keeper:
            os._exit(1)
        _exit_with(run)
    for signum in FORWARDED:
        signal.signal(signum, lambda received, _frame: _signal(fleet, received))
    status = _reap_until(fleet)
    end_orphans()
    return _exit_code(status)


def _reap_until(child: int) -> int:
    """Reap every child (adopted orphans too) until `child` itself ends; its wait status."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if pid == child:
            return status


def end_orphans() -> None:
    """Kill the process groups of this process's children, again and again, until it has none left."""
    while True:
        for pid in children(os.getpid()):
            _kill_group_of(pid)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def children(parent: int) -> list[int]:
    """The pids whose parent is `parent`, read from /proc (none where there is no /proc)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if entry.isdigit() and _parent_of(entry) == parent:
            found.append(int(entry))
    return found


def _parent_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return int(handle.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _kill_group_of(pid: int) -> None:
    try:
        os.killpg(os.getpgid(pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    _signal(pid, signal.SIGKILL)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _prctl(option: int, value: int) -> None:
    """Set a prctl option; nothing where there is no prctl (not Linux)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(option, value, 0, 0, 0)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _exit_with(run: Callable[[], int]) -> None:
    """End a forked child with `run()`'s exit code, whatever it raised, without running the parent's cleanups."""
    code = 1
    try:
        code = run()
    except SystemExit as exited:
        code = exited.code if isinstance(exited.code, int) else (0 if exited.code is None else 1)
    except BaseException:  # noqa: BLE001 - a forked child must never return into its parent's code
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
