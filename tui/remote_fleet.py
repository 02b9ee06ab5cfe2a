"""RemoteFleet: a fleet running in its own process, seen through its socket as a FleetView.

It reads the fleet's snapshot, then reduces every event after it with the same pure `reduce` the
fleet runs, so the screens paint exactly what an in-process fleet would show. A command is first
checked against the state here (`refusal`), for an answer without a round trip; the fleet checks
again, and a refusal it sends back later becomes a notice. An agent's history is read from the
database once the fleet has committed it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from tokenmaxx.agents import wire
from tokenmaxx.agents.commands import Command, CommandError, refusal
from tokenmaxx.agents.fleet_client import FleetConnection, FleetGone
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.sessions.events import Event
from tokenmaxx.sessions.state import FleetState, reduce
from tokenmaxx.sessions.store import Store
from tokenmaxx.tui.fleet_view import Subscriber

Notice = Callable[[str, str], None]
"""notice(message, severity), as `Control.notify`."""


def client_name() -> str:
    """Who acts, as the fleet records it: this TUI's process."""
    return f"tui:{os.getpid()}"


class RemoteFleet:
    """A fleet process's state, followed live; `gone` is set once the connection ended, `ended` says why."""

    live = True

    def __init__(self, connection: FleetConnection, state: FleetState, *, client: str) -> None:
        self.connection = connection
        self.hello = connection.hello
        self.client = client
        self.state = state
        self.version = 1
        self.resyncs = 0
        self.gone = asyncio.Event()
        self.ended: wire.Bye | None = None
        self.detached = False  # closed by this side while the fleet still ran
        self.on_notice: Notice = lambda message, severity: None
        self._subscribers: list[Subscriber] = []
        self._waiting: dict[int, asyncio.Future[wire.Reply]] = {}
        self._store: Store | None = None
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def attach(cls, path: Path, client: str | None = None) -> RemoteFleet:
        """Connect to the fleet at `path`, read its state and follow it; raises WireError."""
        name = client or client_name()
        connection = await FleetConnection.open(path, name)
        try:
            first = await connection.frame()
            if not isinstance(first, wire.Snapshot):
                raise FleetGone(first.reason if isinstance(first, wire.Bye) else "the fleet hung up before it sent its state")
        except BaseException:
            await connection.close()
            raise
        fleet = cls(connection, first.state, client=name)
        fleet._reader = asyncio.create_task(fleet._follow(), name=f"fleet-reader:{connection.hello.session_id}")
        return fleet

    @property
    def session_id(self) -> str:
        return self.hello.session_id

    @property
    def out_root(self) -> Path | None:
        path = Path(self.hello.out_root)
        return path if path.is_dir() else None

    def handle(self, command: Command) -> None:
        """Send `command`, recorded as this client's; CommandError at once when the state already says no."""
        reason = refusal(command, self.state)
        if reason is not None:
            raise CommandError(reason)
        if self.gone.is_set():
            raise CommandError("the fleet is gone: nothing can be sent to it")
        if command.by == "user":
            command = command.model_copy(update={"by": self.client})
        frame_id = self.connection.next_id()
        self._waiting[frame_id] = asyncio.get_running_loop().create_future()
        self._waiting[frame_id].add_done_callback(self._refused_later)
        self.connection.send(wire.CommandFrame(id=frame_id, command=command))

    def stop_fleet(self) -> None:
        """Ask the fleet to stop every agent and end (the connection then ends with its goodbye)."""
        if not self.gone.is_set():
            self.connection.send(wire.StopFrame(id=self.connection.next_id()))

    async def read_agent_events(self, agent: str) -> list[Event]:
        if not self.gone.is_set():  # once gone, the fleet has committed all it could
            frame_id = self.connection.next_id()
            committed = self._waiting[frame_id] = asyncio.get_running_loop().create_future()
            self.connection.send(wire.CommitFrame(id=frame_id))
            await committed
        if self._store is None:
            self._store = await Store.open(Path(self.hello.db))
        return await self._store.events(self.session_id, agent=agent)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    async def close(self) -> None:
        """Hang up and close the history store; safe to call more than once."""
        self.detached = self.detached or not self.gone.is_set()
        await cancel_and_drain(self._reader)
        await self.connection.close()
        if self._store is not None:
            store, self._store = self._store, None
            await store.close()
        self.gone.set()

    async def _follow(self) -> None:
        try:
            while (frame := await self.connection.frame()) is not None:
                if not self._took(frame):
                    return
        except wire.WireError as error:
            self.ended = wire.Bye(reason=str(error))
        finally:
            self.gone.set()
            for frame_id, waiting in self._waiting.items():
                if not waiting.done():
                    waiting.set_result(wire.Reply(id=frame_id, error="the fleet is gone: what was sent may not have been carried out"))

    def _took(self, frame: wire.FleetFrame) -> bool:
        """Apply one frame; False once the fleet said goodbye."""
        match frame:
            case wire.EventFrame():
                self._apply(frame.event)
            case wire.Snapshot():
                self.state = frame.state
                self.version += 1
                self.resyncs += frame.behind
            case wire.Reply():
                waiting = self._waiting.pop(frame.id, None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(frame)
            case wire.Bye():
                self.ended = frame
                return False
            case wire.FleetHello():
                pass
        return True

    def _apply(self, event: Event) -> None:
        if event.seq <= self.state.seq:
            return  # already in the snapshot that followed a fall behind
        self.state = reduce(self.state, event)
        self.version += 1
        for subscriber in list(self._subscribers):
            subscriber(event, self.state)

    def _refused_later(self, done: asyncio.Future[wire.Reply]) -> None:
        error = done.result().error
        if error:
            self.on_notice(error, "warning")

