"""ReplayFleet: a recorded session seen as a FleetView, standing where the replay cursor stands.

The screens paint `state` (the fleet after the cursor's event) as they paint a live fleet. Moving
the cursor forward tells subscribers each event passed, as a live fleet would; moving it back
(or far ahead) cannot be told that way, so it grows `rewinds`, and whoever keeps a history of
its own (the agent screen's transcript) reads it again up to the cursor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from tokenmaxx.agents.commands import Command
from tokenmaxx.agents.plan import PlanError, load_plan
from tokenmaxx.agents.supervisor import CommandError
from tokenmaxx.sessions.events import Event, SessionStarted
from tokenmaxx.sessions.player import Cursor, Player
from tokenmaxx.sessions.replay import Marker, Replay
from tokenmaxx.sessions.state import FleetState, reduce
from tokenmaxx.sessions.store import StoreError
from tokenmaxx.sessions.store_api import SessionStore, StoreTarget, open_store, store_exists
from tokenmaxx.tui.fleet_view import Subscriber

REPLAY_OFF = "replay: supervision is off, this is a recording of what already happened (nothing here can be changed)"
TOLD_EVENTS = 2_000
"""A move forward by at most this many events is told to subscribers event by event; a longer one counts as a rewind."""


class NoDatabase(StoreError):
    """There is no session database at the path, so there is nothing to replay."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"no sessions yet: no database at {path} (record one with: tokenmaxx demo)")


class ReplayFleet:
    """A Player seen as a FleetView; it owns its store and closes it with `close`."""

    live = False

    def __init__(self, player: Player, store: SessionStore, out_root: Path | None) -> None:
        self.player = player
        self.store = store
        self.out_root = out_root
        self.version = 0
        self.rewinds = 0
        self._lock = asyncio.Lock()
        self._subscribers: list[Subscriber] = []

    @classmethod
    async def open(cls, db_path: StoreTarget, session: str, *, speed: int = 1, at: int | None = None) -> ReplayFleet:
        """Open a session (id or unique prefix) of the database at `db_path`; raises StoreError subclasses."""
        if not store_exists(db_path):
            raise NoDatabase(db_path)
        store = await open_store(db_path)
        try:
            player = await Player.open(store, session, speed=speed, at=at)
            out_root = await _out_root(player.replay)
        except BaseException:
            await store.close()
            raise
        return cls(player, store, out_root)

    async def close(self) -> None:
        await self.store.close()

    @property
    def state(self) -> FleetState:
        return self.player.state

    @property
    def cursor(self) -> Cursor:
        return self.player.cursor

    @property
    def markers(self) -> list[Marker]:
        return self.player.markers

    @property
    def session_id(self) -> str:
        return self.player.replay.session_id

    def handle(self, command: Command) -> None:
        raise CommandError(REPLAY_OFF)

    async def read_agent_events(self, agent: str) -> list[Event]:
        """The agent's events up to the cursor."""
        return await self.player.replay.events_between(1, self.player.state.seq, agent=agent)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    async def move(self, change: Callable[[Cursor], Cursor]) -> None:
        """Move the cursor to `change(cursor)`, applied to the cursor as it stands once earlier moves are done."""
        async with self._lock:
            state, cursor = self.player.state, self.player.cursor
            await self.player.move(change(cursor))
            await self._moved(state, cursor)

    async def tick(self, dt: float) -> None:
        """Play `dt` wall-clock seconds and follow a running session."""
        async with self._lock:
            state, cursor = self.player.state, self.player.cursor
            await self.player.tick(dt)
            await self._moved(state, cursor)

    async def _moved(self, before: FleetState, cursor: Cursor) -> None:
        after = self.player.state
        if after is before and _shown(self.player.cursor) == _shown(cursor):
            return
        self.version += 1
        if 0 < after.seq - before.seq <= TOLD_EVENTS:
            if self._subscribers:
                await self._tell(before, after.seq)
        elif after.seq != before.seq:
            self.rewinds += 1

    async def _tell(self, state: FleetState, seq: int) -> None:
        for event in await self.player.replay.events_between(state.seq + 1, seq):
            state = reduce(state, event)
            for subscriber in tuple(self._subscribers):
                subscriber(event, state)


def _shown(cursor: Cursor) -> Cursor:
    """The cursor without the session time played since its event, which nothing shows."""
    return replace(cursor, lag=0.0)


async def _out_root(replay: Replay) -> Path | None:
    """The session's output folder, if it is still on this machine: as its start recorded it, or (for
    sessions recorded before it was) from its plan file as that file is now."""
    first = await replay.events_between(1, 1)
    started = first[0] if first and isinstance(first[0], SessionStarted) else None
    if started is None:
        return None
    if started.out:
        folder = Path(started.out)
    elif started.plan:
        try:
            plan = await asyncio.to_thread(load_plan, Path(started.plan))
        except (PlanError, OSError):
            return None
        folder = plan.out / replay.session_id
    else:
        return None
    if not _looks_like_session_out(folder, replay.session_id):
        return None
    return folder if await asyncio.to_thread(folder.is_dir) else None


def _looks_like_session_out(folder: Path, session_id: str) -> bool:
    """A session writes to `<out>/<its id>`: a recording (perhaps imported) naming any other folder is not trusted to open files from."""
    return folder.is_absolute() and folder.name == session_id
