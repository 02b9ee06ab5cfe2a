"""A consistent copy of a session database, taken with SQLite's online backup while the fleet writes.

    copy_database(source, target, max_bytes) -> target    blocking: call it in a thread
    refuse_past(source, size, max_bytes)                   CopyRefused when `size` bytes are too many
    CopyRefused                                            too large to copy, or unreadable
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from tokenmaxx.sessions.schema import StoreError

MAX_COPY_BYTES = 512 * 1024 * 1024
BUSY_TIMEOUT_S = 5.0


class CopyRefused(StoreError):
    """The database was not copied: it is larger than allowed, or it could not be read."""


def database_bytes(source: Path) -> int:
    """The bytes a copy would read: the database file and its write-ahead log."""
    wal = source.with_name(source.name + "-wal")
    return sum(path.stat().st_size for path in (source, wal) if path.is_file())


def copy_database(source: Path, target: Path, max_bytes: int = MAX_COPY_BYTES) -> Path:
    """Copy `source` to `target` as one consistent snapshot in rollback-journal mode, replacing `target` atomically."""
    refuse_past(source, database_bytes(source), max_bytes)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        _backup(source, partial)
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as error:
        partial.unlink(missing_ok=True)
        raise CopyRefused(f"could not copy {source}: {error}") from error
    return target


def refuse_past(source: object, size: int, max_bytes: int) -> None:
    """Raise CopyRefused when `source`, holding `size` bytes, is more than a history snapshot may copy."""
    if size > max_bytes:
        megabytes, limit = size / 2**20, max_bytes / 2**20
        raise CopyRefused(f"{source} holds {megabytes:.0f} MB, more than the {limit:.0f} MB a history snapshot may copy")


def _backup(source: Path, target: Path) -> None:
    """SQLite's online backup of `source`, opened read-only, into a new file `target`."""
    uri = f"{source.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)) as live:
        with closing(sqlite3.connect(target)) as copy:
            live.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
