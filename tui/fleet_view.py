"""What the app needs of a fleet, live or replayed: `FleetView`, and `LiveFleet` over a running supervisor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tokenmaxx.agents.commands import Command
from tokenmaxx.agents.supervisor import CommandError
from tokenmaxx.sessions.events import Event
from tokenmaxx.sessions.state import FleetState

if TYPE_CHECKING:
    from tokenmaxx.agents.supervisor import Supervisor

Subscriber = Callable[[Event, FleetState], None]


class FleetView(Protocol):
    """A fleet as the screens see it: a state to paint, commands to send, one agent's history to read."""

    @property
    def state(self) -> FleetState:
        """The latest state; immutable, replaced on every event."""
        ...

    @property
    def version(self) -> int:
        """Grows by one with every event, so a painter can tell whether anything changed."""
        ...

    @property
    def live(self) -> bool:
        """False for a replay: supervision keys are off."""
        ...

    @property
    def out_root(self) -> Path | None:
        """The session's output folder, against which artifact paths resolve (None: not on this machine)."""
        ...

    def handle(self, command: Command) -> None:
        """Carry out a command; raises agents.supervisor.CommandError when it does not apply."""
        ...

    def read_agent_events(self, agent: str) -> Awaitable[list[Event]]:
        """Every event of one agent so far, in order (await it from a worker, never a handler)."""
        ...

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(event, state)` after every event; returns the unsubscribe function."""
        ...


class LiveFleet:
    """A running supervisor seen as a FleetView."""

    live = True

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor

    @property
    def state(self) -> FleetState:
        return self.supervisor.log.state

    @property
    def version(self) -> int:
        return self.supervisor.log.version

    @property
    def out_root(self) -> Path | None:
        return self.supervisor.out_root

    def handle(self, command: Command) -> None:
        self.supervisor.handle(command)

    async def read_agent_events(self, agent: str) -> list[Event]:
        store = self.supervisor.store
        await store.flush()
        return await store.events(self.supervisor.session_id, agent=agent)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        return self.supervisor.log.subscribe(callback)


class NoFleet:
    """No fleet at all, for an app that opened on the session browser: nothing to paint or command."""

    live = False
    version = 0
    out_root: Path | None = None

    def __init__(self) -> None:
        self.state = FleetState()

    def handle(self, command: Command) -> None:
        raise CommandError("no fleet is running here (start one with tokenmaxx run or tokenmaxx demo)")

    async def read_agent_events(self, agent: str) -> list[Event]:
        return []

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        return lambda: None
