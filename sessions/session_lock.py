"""One writer per session: an advisory lock per session, held by the process that runs it.

The lock is `flock(LOCK_EX | LOCK_NB)` on `<db>.locks/<session id>.lock` (folder 0700, file 0600),
taken by the store on a session's first event (`run`) or before anything else (`resume`), and held
until the store closes. The kernel drops it when its holder dies, however it dies (`kill -9`
included), so whether a session still runs is read from the lock, never from a pid: a pid
recorded inside a PID namespace (often 1), a zombie or a pid reused since all read right.

A session the database calls running is read as follows:

- its lock is held: it runs (the holder wrote `pid host` into the file, for messages);
- its lock file exists and is free, on this host: its process is gone, it was interrupted;
- no lock file (written by a tokenmaxx before locks, or the folder was lost) or another host's
  writer (flock over a network filesystem cannot be trusted): the recorded pid decides, as
  before: alive on this host, or any other host's writer, reads as running. `resume --force`
  is for that case, where nothing can be checked.

A probe takes a shared lock for an instant, so taking the lock retries for a moment before
calling the session busy.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from enum import Enum
from pathlib import Path

from tokenmaxx.sessions.schema import HOST, StoreError

ACQUIRE_TRIES = 20
ACQUIRE_PAUSE_S = 0.01
_HOLDER_BYTES = 300
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class SessionBusy(StoreError):
    """Another holder (another process, or this store already) runs the session."""

    def __init__(self, session_id: str, holder: str) -> None:
        self.session_id, self.holder = session_id, holder
        super().__init__(f"session {session_id} is still running in tokenmaxx {holder}; stop that process or let it end first")


class LockUnavailable(StoreError):
    """The lock file cannot be created, opened or locked (a filesystem without flock); the message names it."""


class Probe(Enum):
    """What a look at a session's lock found."""

    HELD = "held"
    FREE = "free"
    MISSING = "missing"


def lock_dir(db_path: Path) -> Path:
    """The folder of the session locks of the database at `db_path`."""
    return db_path.with_name(f"{db_path.name}.locks")


def lock_path(db_path: Path, session_id: str) -> Path:
    """The lock file of one session; an id that is not a plain name (an imported one) is hashed."""
    name = session_id if _SAFE_ID.fullmatch(session_id) else "~" + hashlib.sha256(session_id.encode()).hexdigest()
    return lock_dir(db_path) / f"{name}.lock"


class SessionLock:
    """One held lock: an open lock file, released by `close` (or by the kernel when the process dies)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: Path, session_id: str) -> SessionLock:
        """Take the lock at `path` for this process; SessionBusy if another holder has it."""
        _make_dir(path.parent)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise LockUnavailable(f"cannot open the session lock {path}: {error.strerror or error}") from error
        try:
            _lock_soon(fd, fcntl.LOCK_EX)
        except BlockingIOError:
            os.close(fd)
            raise SessionBusy(session_id, read_holder(path)) from None
        except OSError as error:
            os.close(fd)
            raise LockUnavailable(f"cannot lock the session lock {path}: {error.strerror or error}") from error
        lock = cls(path, fd)
        lock._write_holder()
        return lock

    def _write_holder(self) -> None:
        assert self._fd is not None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()} {HOST}\n".encode(), 0)

    def close(self) -> None:
        """Release the lock; the file stays, so the session's liveness can still be read from it."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as error:
        raise LockUnavailable(f"cannot create the session lock folder {folder}: {error.strerror or error}") from error


def _lock_soon(fd: int, operation: int) -> None:
    """flock without blocking, retried for a moment so that another's instant probe is waited out."""
    for _ in range(ACQUIRE_TRIES - 1):
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(ACQUIRE_PAUSE_S)
    fcntl.flock(fd, operation | fcntl.LOCK_NB)


def probe(path: Path) -> Probe:
    """Whether the lock at `path` is held, without blocking and without creating anything."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return Probe.MISSING
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return Probe.HELD
    except OSError:
        return Probe.MISSING  # a filesystem without flock: nothing to learn from this file
    finally:
        os.close(fd)
    return Probe.FREE


def read_holder(path: Path) -> str:
    """`pid N on host H` as the holder wrote it into the lock file, or a plain phrase if unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            text = os.read(fd, _HOLDER_BYTES).decode(errors="replace")
        finally:
            os.close(fd)
    except OSError:
        return "(another process)"
    pid, _, host = text.strip().partition(" ")
    host = "".join(ch for ch in host if ch.isprintable())[:100]
    return f"pid {pid} on host {host}" if pid.isdigit() and host else "(another process)"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists here (the fallback for sessions without a lock file)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SessionLocks:
    """The session locks one store holds on its database, and probes of everyone else's."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._held: dict[str, SessionLock] = {}
        self._unlockable: set[str] = set()

    def holds(self, session_id: str) -> bool:
        """Whether this store holds the session's lock."""
        return session_id in self._held

    def claim(self, session_id: str) -> None:
        """Take the session's lock; SessionBusy if anyone holds it, this store included."""
        if session_id in self._held:
            raise SessionBusy(session_id, f"pid {os.getpid()} on host {HOST} (this process)")
        self._held[session_id] = SessionLock.acquire(lock_path(self.db_path, session_id), session_id)

    def hold(self, session_id: str) -> None:
        """Hold the lock of a session this store writes, taking it on the first write.

        A filesystem that cannot lock leaves the session unlocked (read by its pid, as before)
        rather than stopping the run; a lock held elsewhere is SessionBusy.
        """
        if session_id in self._held or session_id in self._unlockable:
            return
        try:
            self.claim(session_id)
        except LockUnavailable:
            self._unlockable.add(session_id)

    def release(self, session_id: str) -> None:
        """Let go of a session's lock, if this store holds it."""
        lock = self._held.pop(session_id, None)
        if lock is not None:
            lock.close()

    def probe(self, session_id: str) -> Probe:
        """Whether anyone (this store included) holds the session's lock."""
        return probe(lock_path(self.db_path, session_id))

    def holder(self, session_id: str) -> str:
        """Who holds the session's lock, as its holder recorded it."""
        return read_holder(lock_path(self.db_path, session_id))

    def is_running(self, session_id: str, pid: int | None, host: str | None) -> bool:
        """Whether the process writing a session the database calls running is alive (see the module's docstring)."""
        found = self.probe(session_id)
        if found is Probe.HELD:
            return True
        if pid is None:
            return False
        if host != HOST:
            return True
        return found is Probe.MISSING and pid_alive(pid)

    def close(self) -> None:
        """Release every lock this store holds."""
        while self._held:
            _, lock = self._held.popitem()
            lock.close()
