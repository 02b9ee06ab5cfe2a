"""A live session's event log: every event is stamped, stored, folded into the state, and told.

`EventLog.emit` is the one path of a running fleet: the store assigns the seq and queues
the write, the reducer advances the live state, and subscribers (the watchdog, the
headless printer) hear of it. Every `snapshot_every` events a snapshot of the state is
queued with the events, so replay can seek without reading a whole session. A large fleet's
snapshot is large (hundreds of kB for 500 agents), so the interval grows with the last
snapshot's size, up to `SNAPSHOT_STRETCH` times `snapshot_every`, to keep snapshots from
outweighing the events they summarise. `emit` never waits; agents await `room()` at their
safe points, so a store whose writer falls behind slows the fleet instead of the record.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from tokenmaxx.sessions.events import Event
from tokenmaxx.sessions.state import FleetState, initial_state, reduce, state_to_json

Subscriber = Callable[[Event, FleetState], None]

SNAPSHOT_BYTES_PER_EVENT = 100
SNAPSHOT_STRETCH = 5
logger = logging.getLogger(__name__)


class EventSink(Protocol):
    def append(self, session_id: str, event: Event) -> Event: ...

    def append_snapshot(self, session_id: str, seq: int, state_json: str) -> None: ...


class EventLog:
    """Stamps, stores and reduces one session's events, in order.

    A subscriber that raises is logged and dropped, so its bug cannot end the agent that
    emitted; with `strict_subscribers` (the tests set it) the error is raised instead.
    """

    strict_subscribers = False

    def __init__(
        self,
        sink: EventSink,
        session_id: str,
        *,
        state: FleetState | None = None,
        snapshot_every: int = 2_000,
    ) -> None:
        self.sink = sink
        self.session_id = session_id
        self.state = state or initial_state()
        self.version = 0
        self.snapshot_every = snapshot_every
        self._snapshot_due = snapshot_every
        self._since_snapshot = 0
        self._subscribers: list[Subscriber] = []
        self._told: tuple[Subscriber, ...] = ()
        self._room: Callable[[], Awaitable[None]] | None = getattr(sink, "room", None)

    async def room(self) -> None:
        """Wait while the sink's writer is too far behind what was emitted; a sink without a writer always has room."""
        if self._room is not None:
            await self._room()

    def emit(self, event: Event) -> Event:
        stamped = self.sink.append(self.session_id, event)
        self.state = reduce(self.state, stamped)
        self.version += 1
        self._since_snapshot += 1
        if self._since_snapshot >= self._snapshot_due:
            self.snapshot()
        for subscriber in self._told:
            try:
                subscriber(stamped, self.state)
            except Exception:
                self._drop(subscriber, stamped)
        return stamped

    def _drop(self, subscriber: Subscriber, event: Event) -> None:
        """Unsubscribe a subscriber that raised on `event`, once it is logged; raise instead when strict."""
        if self.strict_subscribers:
            raise
        logger.exception("dropped the subscriber %r: it raised on event %d (%s)", subscriber, event.seq, event.kind)
        self._unsubscribe(subscriber)

    def snapshot(self) -> None:
        self._since_snapshot = 0
        state_json = state_to_json(self.state)
        self.sink.append_snapshot(self.session_id, self.state.seq, state_json)
        stretched = len(state_json) // SNAPSHOT_BYTES_PER_EVENT
        self._snapshot_due = min(max(self.snapshot_every, stretched), self.snapshot_every * SNAPSHOT_STRETCH)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(event, state)` after every event; returns the unsubscribe function."""
        self._subscribers.append(subscriber)
        self._told = tuple(self._subscribers)
        return lambda: self._unsubscribe(subscriber)

    def _unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)
            self._told = tuple(self._subscribers)
