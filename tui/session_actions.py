"""What the sessions browser does to a stored session besides replaying it: export it beside a path, delete it."""

from __future__ import annotations

import io
from pathlib import Path

from tokenmaxx.sessions.store_api import StoreTarget, open_store
from tokenmaxx.tui.history_cli import ExportFormat, export_session

EXPORT_FORMATS: tuple[ExportFormat, ...] = ("md", "jsonl")


def export_paths(base: Path) -> list[Path]:
    """The files an export to `base` writes: `base`.md and `base`.jsonl."""
    return [base.with_name(f"{base.name}.{fmt}") for fmt in EXPORT_FORMATS]


async def export_beside(db_path: StoreTarget, session_id: str, base: Path) -> list[Path]:
    """Write the session as a Markdown transcript and as importable JSONL beside `base`; HistoryError names what failed."""
    written = export_paths(base)
    for fmt, path in zip(EXPORT_FORMATS, written):
        await export_session(db_path, session_id, fmt, path, io.StringIO())
    return written


async def delete_stored(db_path: StoreTarget, session_id: str) -> None:
    """Remove the session from the database at `db_path` (a running one is refused with SessionRunning)."""
    async with await open_store(db_path) as store:
        await store.delete_session(session_id)
