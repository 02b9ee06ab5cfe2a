"""Storage faults: why the database cannot be written, said in words a user can act on.

A fault (disk full, a read-only file or filesystem, a lock another process holds, a
damaged file) ends a fleet: `storage_fault` turns the SQLite error into a `StorageFault`
whose message names the file and the cause.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from tokenmaxx.sessions.schema import StoreError

CORRUPTION = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
_READ_ONLY = frozenset({sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_CANTOPEN})
_LOCKED = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_MOVED = getattr(sqlite3, "SQLITE_READONLY_DBMOVED", 1032)
_DISK_FULL = "the disk is full"


class StorageFault(StoreError):
    """The database cannot be written: `reason` says why (disk full, read-only, locked, corrupt)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def storage_fault(path: Path, error: BaseException) -> StorageFault:
    """The fault behind an error the store met while reading or writing `path`."""
    return StorageFault(path, fault_reason(path, error))


def fault_reason(path: Path, error: BaseException) -> str:
    """Why `path` could not be used, from SQLite's error code, falling back to its text."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = _primary(error)
    if code == _MOVED:
        return "the database file was moved or deleted while in use"
    if primary == sqlite3.SQLITE_FULL or getattr(error, "errno", None) == errno.ENOSPC:
        return _DISK_FULL
    if primary in CORRUPTION:
        return f"the database is corrupt ({error}); restore it from a backup or use another --db"
    if primary in _LOCKED:
        return _locked(path)
    if primary in _READ_ONLY:
        where = _read_only(path)
        if where or primary == sqlite3.SQLITE_READONLY:
            return f"the database is read-only ({where or 'SQLite was refused a write'})"
    if primary == sqlite3.SQLITE_IOERR and _full(path):
        return _DISK_FULL
    return str(error)


def _primary(error: BaseException) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def _read_only(path: Path) -> str:
    """What keeps `path` from being written, or '' when nothing visible does."""
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return "on a read-only filesystem"
    except OSError:
        return ""
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is write-protected"
    if not os.access(path.parent, os.W_OK):
        return "its folder is write-protected"
    return ""


def _full(path: Path) -> bool:
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def _locked(path: Path) -> str:
    holders = _other_openers(path)
    who = f" (pid {', '.join(map(str, holders))} has it open)" if holders else ""
    return f"the database is locked by another process{who}; try again once it is done"


def _other_openers(path: Path) -> list[int]:
    """The other processes that hold `path` open, as far as /proc shows them."""
    try:
        target = os.path.realpath(path)
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit() and int(name) != os.getpid()]
    except OSError:
        return []
    return [pid for pid in pids if _has_open(pid, target)]


def _has_open(pid: int, target: str) -> bool:
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                return True
        except OSError:
            continue
    return False
