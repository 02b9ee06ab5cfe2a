"""The replay cursor (pure: keys, speeds, wall-clock pacing, idle compression) and the player that feeds it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import EventLog
from tokenmaxx.sessions.player import (
    MAX_IDLE_S,
    REFRESH_EVERY_S,
    SPEEDS,
    TS_WINDOW,
    Cursor,
    Player,
)
from tokenmaxx.sessions.state import reduce_all
from tokenmaxx.sessions.store import Store, new_session_id

BASE_TS = 1_790_000_000.0


def test_keys_move_within_the_session() -> None:
    cursor = Cursor(last_seq=200, seq=100)
    assert cursor.step(1).seq == 101 and cursor.step(-1).seq == 99
    assert cursor.jump().seq == 120 and cursor.jump(-0.1).seq == 80
    assert cursor.to_start().seq == 0 and cursor.to_end().seq == 200
    assert cursor.step(500).seq == 200 and cursor.step(-500).seq == 0
    assert Cursor(last_seq=3, seq=1).jump().seq == 2  # at least one event
    assert Cursor(last_seq=200, seq=100).fraction == 0.5 and Cursor(last_seq=0).fraction == 1.0


def test_speeds_go_from_1x_to_1000x_in_fixed_steps() -> None:
    cursor, seen = Cursor(last_seq=10), []
    for _ in range(12):
        seen.append(cursor.speed)
        cursor = cursor.faster()
    assert tuple(dict.fromkeys(seen)) == SPEEDS == (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
    assert cursor.speed == 1000 and cursor.slower().speed == 500
    assert Cursor(last_seq=10).slower().speed == 1
    assert replace(Cursor(last_seq=10), speed=3).faster().speed == 5


def test_play_at_the_end_of_a_finished_session_starts_over() -> None:
    ended = Cursor(last_seq=10, seq=10)
    assert ended.toggle() == Cursor(last_seq=10, seq=0, playing=True)
    assert ended.toggle().toggle().playing is False
    live = Cursor(last_seq=10, seq=10, live=True)
    assert live.toggle().seq == 10 and live.toggle().playing


def test_advance_follows_the_event_clock_at_the_cursor_speed() -> None:
    timestamps = [0.0, 1.0, 1.5, 4.0, 4.0]  # events seq 1..5 (seq 0 repeats event 1's time)
    cursor = Cursor(last_seq=4, playing=True)
    cursor = cursor.advance(0.4, [timestamps[0], *timestamps[:4]])
    assert cursor.seq == 1 and cursor.lag == pytest.approx(0.4)
    cursor = cursor.advance(0.6, timestamps[:4])
    assert cursor.seq == 2 and cursor.lag == pytest.approx(0.0)
    fast = replace(cursor, speed=5).advance(0.5, timestamps[1:4])
    assert fast.seq == 3 and fast.lag == pytest.approx(2.0)
    assert Cursor(last_seq=4, seq=1).advance(100, timestamps) == Cursor(last_seq=4, seq=1)


def test_long_idle_gaps_play_in_a_few_seconds_at_most() -> None:
    hour_gap = [0.0, 3600.0, 3601.0]
    cursor = Cursor(last_seq=3, seq=1, playing=True)
    assert cursor.advance(MAX_IDLE_S - 0.1, hour_gap).seq == 1
    assert cursor.advance(MAX_IDLE_S, hour_gap).seq == 2
    at_100x = replace(cursor, speed=100)
    assert at_100x.advance(MAX_IDLE_S + 0.02, hour_gap).seq == 3  # 200 s of the hour, then 1 s


def test_a_finished_session_stops_at_its_end_and_a_live_one_keeps_waiting() -> None:
    timestamps = [0.0, 1.0]
    finished = Cursor(last_seq=2, seq=1, playing=True).advance(5, timestamps)
    assert finished.seq == 2 and not finished.playing and finished.lag == 0
    live = Cursor(last_seq=2, seq=1, playing=True, live=True).advance(5, timestamps)
    assert live.seq == 2 and live.playing and live.lag == MAX_IDLE_S
    grown = live.with_last_seq(3, live=True)
    assert grown.advance(0, [1.0, 1.5]).seq == 3
    ended = live.with_last_seq(2, live=False)
    assert not ended.playing


def test_advance_stops_where_its_timestamps_end() -> None:
    cursor = Cursor(last_seq=100, seq=10, playing=True).advance(50, [0.0, 1.0, 2.0])
    assert cursor.seq == 12 and cursor.lag == pytest.approx(48.0)


async def record(store: Store, count: int, gap_s: float = 1.0) -> EventLog:
    log = EventLog(store, new_session_id(), snapshot_every=50)
    log.emit(ev.SessionStarted(name="fleet", cwd="/w", version="1", ts=BASE_TS))
    for seq in range(2, count + 1):
        log.emit(ev.Text(agent="a", text=f"{seq}\n", ts=BASE_TS + (seq - 1) * gap_s))
    await store.flush()
    return log


async def test_a_finished_session_opens_at_its_start_playing(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.db") as store:
        log = await record(store, 300)
        log.emit(ev.SessionEnded(status="done", ts=BASE_TS + 300))
        await store.flush()
        player = await Player.open(store, log.session_id[:6])
        assert player.cursor == Cursor(last_seq=301, seq=0, playing=True) and player.state.seq == 0
        assert await player.tick(0.0) is True and player.state.seq == 1  # event 1 at once
        for _ in range(10):
            await player.tick(1.0)
        assert player.state.seq == 11
        events = await store.events(log.session_id)
        assert player.state == reduce_all(events[:11])
        await player.move(player.cursor.jump())
        assert player.state == reduce_all(events[:41])


async def test_a_session_opened_at_an_event_is_paused_there_even_while_it_runs(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.db") as store:
        log = await record(store, 30)  # no end yet: still running
        player = await Player.open(store, log.session_id, at=12, speed=5)
        assert player.cursor == Cursor(last_seq=30, seq=12, speed=5, live=True)
        events = await store.events(log.session_id)
        assert player.state == reduce_all(events[:12])


async def test_fast_playback_crosses_timestamp_windows(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.db") as store:
        log = await record(store, 3 * TS_WINDOW, gap_s=0.01)
        player = await Player.open(store, log.session_id, at=0, speed=1000)
        await player.move(player.cursor.play())
        await player.tick(0.05)  # 50 s of session at 1000x: 5,000 events, more than one window
        assert 5000 <= player.cursor.seq <= 5002 and player.state.seq == player.cursor.seq  # event 1, then 50 s


async def test_a_live_session_is_followed_as_it_grows(tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    async with await Store.open(path) as writer, await Store.open(path) as reader:
        log = await record(writer, 20)
        player = await Player.open(reader, log.session_id)
        assert player.cursor.live and player.cursor.playing and player.cursor.seq == 20
        assert await player.tick(0.1) is False
        for seq in range(21, 26):
            log.emit(ev.Text(agent="a", text=f"{seq}\n", ts=BASE_TS + seq - 1))
        log.emit(ev.AgentFlagged(agent="a", flag="stalled", ts=BASE_TS + 25.5))
        await writer.flush()
        assert await player.tick(REFRESH_EVERY_S) is True
        assert player.cursor.last_seq == 26 and player.markers[-1].kind == "flag"
        for _ in range(20):
            await player.tick(0.5)
        assert player.state == log.state
        log.emit(ev.SessionEnded(status="done", ts=BASE_TS + 30))
        await writer.flush()
        assert await player.refresh() is True
        assert not player.cursor.live
