"""A live session's event log: every event is stamped, stored, folded into the state, and told.

`EventLog.emit` is the one path of a running fleet: the store assigns the seq and queues
the write, the reducer advances the live state, and subscribers (the watchdog, the
headless printer) hear of it. Every `snapshot_every` events a snapshot of the state is
queued with the events, so replay can seek without reading a whole session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sessions.events import Event
from sessions.state import FleetState, initial_state, reduce, state_to_json

Subscriber = Callable[[Event, FleetState], None]


class EventSink(Protocol):
    def append(self, session_id: str, event: Event) -> Event: ...

    def append_snapshot(self, session_id: str, seq: int, state_json: str) -> None: ...


class EventLog:
    """Stamps, stores and reduces one session's events, in order."""

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
        self._since_snapshot = 0
        self._subscribers: list[Subscriber] = []

    def emit(self, event: Event) -> Event:
        stamped = self.sink.append(self.session_id, event)
        self.state = reduce(self.state, stamped)
        self.version += 1
        self._since_snapshot += 1
        if self._since_snapshot >= self.snapshot_every:
            self.snapshot()
        for subscriber in tuple(self._subscribers):
            subscriber(stamped, self.state)
        return stamped

    def snapshot(self) -> None:
        self._since_snapshot = 0
        self.sink.append_snapshot(self.session_id, self.state.seq, state_to_json(self.state))

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(event, state)` after every event; returns the unsubscribe function."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber) if subscriber in self._subscribers else None
