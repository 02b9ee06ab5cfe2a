"""Copy sessions from one store to another (a laptop's file to the team's server), idempotently.

A session the target lacks is imported whole with its user and host; one the target holds with
as many events is skipped; one it holds with fewer (copied while it still ran) is replaced by the
whole session once it no longer runs there, so no event is ever there twice. A session still
running in the source is copied as far as it goes and completed by a later sync.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tokenmaxx.sessions.replay import Replay
from tokenmaxx.sessions.schema import SessionSummary
from tokenmaxx.sessions.store import SessionNotFound
from tokenmaxx.sessions.store_api import Origin, SessionStore


@dataclass
class SyncReport:
    """What one sync did, session by session."""

    copied: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


async def sync(source: SessionStore, target: SessionStore, progress: Callable[[str, str], None] | None = None) -> SyncReport:
    """Copy every session of `source` that `target` lacks or holds only in part; `progress(id, what)` hears of each."""
    report = SyncReport()
    for summary in reversed(await source.sessions()):
        done = await _sync_one(source, target, summary)
        getattr(report, done).append(summary.id)
        if progress is not None:
            progress(summary.id, done)
    return report


async def _sync_one(source: SessionStore, target: SessionStore, summary: SessionSummary) -> str:
    try:
        there = await target.session(summary.id)
    except SessionNotFound:
        there = None
    if there is not None and (there.last_seq >= summary.last_seq or there.status == "running"):
        return "skipped"
    if there is not None:
        await target.delete_session(summary.id)
    events = [event async for event in source.iter_events(summary.id)]
    await target.import_events(events, origin=Origin(summary.user, summary.host))
    await (await Replay.open(target, summary.id)).ensure_snapshots()
    return "copied" if there is None else "completed"
