"""A history snapshot of a PostgreSQL store: every session's events exported into a fresh SQLite file.

An agent whose plan sets `history = true` mines its snapshot as SQLite ($TOKENMAXX_HISTORY) whichever
store the fleet records to. The server's events are measured first (more than `max_bytes` is refused,
as an SQLite file that large is), then each session is imported, with its user and host, into a
staging file beside `target`, which is copied over `target` in rollback-journal mode and removed.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from tokenmaxx.sessions.backup import CopyRefused, copy_database, refuse_past
from tokenmaxx.sessions.schema import StoreError
from tokenmaxx.sessions.store import Store
from tokenmaxx.sessions.store_api import Origin, SessionStore


async def export_history(source: SessionStore, size: int, target: Path, max_bytes: int) -> Path:
    """Export every session of `source` (its events taking `size` bytes) into an SQLite file at `target`."""
    refuse_past(source.path, size, max_bytes)
    staging = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=".export-", dir=target.parent))
    try:
        await _import_all(source, staging / target.name)
        return await asyncio.to_thread(copy_database, staging / target.name, target, max_bytes)
    except CopyRefused:
        raise
    except (StoreError, OSError) as error:
        raise CopyRefused(f"could not export {source.path}: {error}") from None
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, True)


async def _import_all(source: SessionStore, path: Path) -> None:
    async with await Store.open(path) as copy:
        for summary in reversed(await source.sessions()):
            events = [event async for event in source.iter_events(summary.id)]
            if events:
                await copy.import_events(events, origin=Origin(summary.user, summary.host))
