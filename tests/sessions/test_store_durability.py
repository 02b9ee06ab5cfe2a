"""Durability independent of the event loop: commits land while the loop is busy, and a writer that falls behind slows the fleet."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import EventLog
from tokenmaxx.sessions.store import ROOM_EVENTS, Store, new_session_id

HANG_GUARD_S = 20.0


def committed_rows(path: Path, session_id: str) -> int:
    with sqlite3.connect(path) as other:
        (count,) = other.execute("SELECT count(*) FROM events WHERE session_id = ?", (session_id,)).fetchone()
    other.close()
    return count


@contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another connection holds the database's write lock for the duration."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_appends_are_committed_while_the_event_loop_is_busy(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    async with await Store.open(path) as store:
        session_id = new_session_id()
        for index in range(50):
            store.append(session_id, ev.Text(agent="a", text=f"line {index}"))
        deadline = time.monotonic() + HANG_GUARD_S
        while committed_rows(path, session_id) < 50 and time.monotonic() < deadline:
            time.sleep(0.01)  # the loop is held here, as a saturated fleet holds it
        assert committed_rows(path, session_id) == 50
        assert store.commit_lags


async def test_a_writer_that_falls_behind_holds_agents_at_their_safe_points_until_it_catches_up(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    async with await Store.open(path) as store:
        log = EventLog(store, new_session_id())
        with write_lock_held(path):
            for index in range(ROOM_EVENTS + 10):
                log.emit(ev.Text(agent="a", text=f"line {index}"))
            waiting = asyncio.create_task(log.room(), name="room")
            await asyncio.sleep(0.3)
            assert not waiting.done()
        await asyncio.wait_for(waiting, HANG_GUARD_S)
        assert committed_rows(path, log.session_id) == ROOM_EVENTS + 10


async def test_a_writer_within_bounds_lets_agents_on_at_once(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    async with await Store.open(path) as store:
        log = EventLog(store, new_session_id())
        with write_lock_held(path):
            for index in range(10):
                log.emit(ev.Text(agent="a", text=f"line {index}"))
            await asyncio.wait_for(log.room(), HANG_GUARD_S)
