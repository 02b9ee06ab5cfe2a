"""Playing a stored session: a pure `Cursor` (position, speed, play/pause) and a `Player` that feeds it.

The cursor is a frozen value; every key of the replay screen is one method that returns a new
cursor (`step`, `jump`, `to_start`, `faster`, `toggle`...), and `advance(dt, timestamps)` maps
wall-clock time to events at the cursor's speed. The `Player` owns a `Replay` and a cursor, loads
the event timestamps `advance` needs, and keeps the state at the cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Self

from tokenmaxx.sessions.replay import Marker, Replay
from tokenmaxx.sessions.state import FleetState
from tokenmaxx.sessions.store import Store

SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
MAX_IDLE_S = 2.0
JUMP_FRACTION = 0.1
TS_WINDOW = 4096
MAX_WINDOWS_PER_TICK = 2
REFRESH_EVERY_S = 0.5


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a replay stands: after event `seq` (0 = before the first), playing or not, at what speed.

    Playback is paced by the events' own timestamps at `speed` times real time, except that a
    quiet stretch between two events never takes longer than MAX_IDLE_S seconds of wall-clock
    time: long idle gaps are compressed so a replay never sits still for minutes. `lag` is the
    session time already played since event `seq`. A `live` cursor (the session is still being
    written) keeps playing at the end and moves on as new events arrive.
    """

    last_seq: int
    seq: int = 0
    playing: bool = False
    speed: int = 1
    live: bool = False
    lag: float = 0.0

    @property
    def at_start(self) -> bool:
        return self.seq <= 0

    @property
    def at_end(self) -> bool:
        return self.seq >= self.last_seq

    @property
    def fraction(self) -> float:
        """How far through the session the cursor is, 0.0 to 1.0."""
        return self.seq / self.last_seq if self.last_seq else 1.0

    def seek(self, seq: int) -> Self:
        return replace(self, seq=max(0, min(seq, self.last_seq)), lag=0.0)

    def step(self, events: int) -> Self:
        """Move by `events` events (negative: back), staying inside the session."""
        return self.seek(self.seq + events)

    def jump(self, fraction: float = JUMP_FRACTION) -> Self:
        """Move by a fraction of the session (default 10%; negative: back), at least one event."""
        events = max(1, round(abs(fraction) * self.last_seq))
        return self.step(events if fraction >= 0 else -events)

    def to_start(self) -> Self:
        return self.seek(0)

    def to_end(self) -> Self:
        return self.seek(self.last_seq)

    def play(self) -> Self:
        """Play; at the end of a finished session, play again from the start."""
        if self.at_end and not self.live:
            return replace(self, seq=0, playing=True, lag=0.0)
        return replace(self, playing=True)

    def pause(self) -> Self:
        return replace(self, playing=False, lag=0.0)

    def toggle(self) -> Self:
        return self.pause() if self.playing else self.play()

    def faster(self) -> Self:
        """The next speed up in SPEEDS (1x, 2x, 5x ... 1000x)."""
        higher = [s for s in SPEEDS if s > self.speed]
        return replace(self, speed=higher[0] if higher else SPEEDS[-1])

    def slower(self) -> Self:
        lower = [s for s in SPEEDS if s < self.speed]
        return replace(self, speed=lower[-1] if lower else SPEEDS[0])

    def with_last_seq(self, last_seq: int, *, live: bool) -> Self:
        """The same cursor over a session that grew (live follow) or stopped being live."""
        cursor = replace(self, last_seq=last_seq, live=live, seq=min(self.seq, last_seq))
        return cursor if live or not cursor.at_end else replace(cursor, playing=False, lag=0.0)

    def advance(self, dt: float, timestamps: Sequence[float]) -> Self:
        """Play `dt` wall-clock seconds: `timestamps[i]` is the ts of event seq + i (for seq 0, [0] is event 1's).

        Stops where `timestamps` ends (the caller passes the next window and dt 0 to go on), and
        at the end of a session that is not live.
        """
        if not self.playing:
            return self
        cap = MAX_IDLE_S * self.speed
        budget = self.lag + max(dt, 0.0) * self.speed
        moved, limit = 0, min(len(timestamps) - 1, self.last_seq - self.seq)
        while moved < limit:
            need = min(max(timestamps[moved + 1] - timestamps[moved], 0.0), cap)
            if budget < need:
                break
            budget -= need
            moved += 1
        cursor = replace(self, seq=self.seq + moved, lag=budget)
        if cursor.at_end:
            return replace(cursor, lag=min(budget, cap)) if self.live else replace(cursor, playing=False, lag=0.0)
        return cursor


class Player:
    """A Replay driven by a Cursor: the state at the cursor, playback by wall-clock ticks, live follow.

    Call `tick(dt)` from a timer with the wall-clock seconds since the last tick, and `move(cursor)`
    for every key (e.g. `await player.move(player.cursor.jump(-0.1))`); read `state`, `cursor`
    and `markers` to render. Calls are serialised, so a key and a tick never interleave.
    """

    def __init__(self, replay: Replay, cursor: Cursor, state: FleetState, markers: list[Marker]) -> None:
        self.replay = replay
        self.cursor = cursor
        self.state = state
        self.markers = markers
        self._lock = asyncio.Lock()
        self._ts_lo = 0
        self._ts: list[float] = []
        self._since_refresh = 0.0

    @classmethod
    async def open(cls, store: Store, session: str, *, speed: int = 1, at: int | None = None) -> Player:
        """Open a session (id or unique prefix) paused after event `at`; without `at`, playing: a finished
        session from its start, a live one at its end, following it."""
        replay = await Replay.open(store, session)
        start = at if at is not None else replay.last_seq if replay.live else 0
        cursor = Cursor(replay.last_seq, playing=at is None, live=replay.live).seek(start)
        cursor = replace(cursor, speed=speed if speed in SPEEDS else SPEEDS[0])
        return cls(replay, cursor, await replay.state_at(cursor.seq), await replay.markers())

    async def move(self, cursor: Cursor) -> FleetState:
        """Put the cursor where `cursor` says and load the state there."""
        async with self._lock:
            await self._go(cursor)
            return self.state

    async def tick(self, dt: float) -> bool:
        """Play `dt` wall-clock seconds and follow a live session; True if anything shown changed."""
        async with self._lock:
            seq = self.state.seq
            self._since_refresh += dt
            grew = self.cursor.live and self._since_refresh >= REFRESH_EVERY_S and await self._refresh()
            if self.cursor.playing:
                await self._go(await self._played(self.cursor, dt))
            return grew or self.state.seq != seq

    async def refresh(self) -> bool:
        """Read what a running session appended since; True when it grew."""
        async with self._lock:
            return await self._refresh()

    async def _played(self, cursor: Cursor, dt: float) -> Cursor:
        for _ in range(MAX_WINDOWS_PER_TICK):
            timestamps = [] if cursor.at_end else await self._upcoming(cursor.seq)
            moved = cursor.advance(dt, timestamps)
            if moved.at_end or moved.seq - cursor.seq < len(timestamps) - 1 or not moved.playing:
                return moved
            cursor, dt = moved, 0.0
        return replace(cursor, lag=0.0)

    async def _upcoming(self, seq: int) -> list[float]:
        start = max(seq, 1)
        if not self._ts_lo <= start < self._ts_lo + len(self._ts) - 1:
            self._ts_lo, self._ts = start, await self.replay.timestamps(start, start + TS_WINDOW - 1)
        window = self._ts[start - self._ts_lo :]
        return window[:1] + window if seq == 0 else window

    async def _go(self, cursor: Cursor) -> None:
        if cursor.seq != self.state.seq:
            self.state = await self.replay.state_at(cursor.seq)
        self.cursor = cursor

    async def _refresh(self) -> bool:
        self._since_refresh = 0.0
        was_live = self.replay.live
        grew = await self.replay.refresh()
        if grew:
            self.markers = await self.replay.markers()
            self._ts = []
        self.cursor = self.cursor.with_last_seq(self.replay.last_seq, live=self.replay.live)
        return grew or was_live != self.replay.live
