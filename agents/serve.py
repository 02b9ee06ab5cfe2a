"""FleetServer: a running fleet served over its Unix socket to any number of clients of this user.

A client says hello, gets the fleet's hello and a snapshot of its state, then every event after
it; it sends commands (answered with a reply) and may ask the fleet to commit or to stop. The
fleet never waits for a client: each has a bounded queue of frames, and one that falls behind is
told so with a fresh snapshot in place of what it missed; one that falls behind again before
taking that snapshot, while its socket has taken nothing for `stuck_after_s`, has stopped
reading and is dropped. Another user's process is refused by
its peer credentials before it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from tokenmaxx.agents import wire
from tokenmaxx.agents.commands import CommandError
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.sessions.events import Event
from tokenmaxx.sessions.state import FleetState
from tokenmaxx.sessions.store_api import SessionStore, StoreTarget

QUEUE_FRAMES = 5_000
"""The frames a client may have waiting before it counts as fallen behind."""
STUCK_AFTER_S = 1.0
"""How long a client's socket may take nothing before a client that falls behind again is dropped."""
HELLO_TIMEOUT_S = 5.0
MAX_SOCKET_PATH = 107
logger = logging.getLogger(__name__)


class _Client:
    """One attached client: its name, its queue of lines, and whether it is owed a fresh snapshot."""

    def __init__(self, name: str, writer: asyncio.StreamWriter, *, follow: bool) -> None:
        self.name = name
        self.writer = writer
        self.follow = follow  # False: it only sends commands (ctl) and is told no events
        self.lines: deque[bytes] = deque()
        self.replies: deque[bytes] = deque()
        self.resync = follow  # the first snapshot
        self.behind = False
        self.blocked_since: float | None = None  # when its socket last stopped taking what is written
        self.wake = asyncio.Event()
        self.wake.set()
        self.task: asyncio.Task[None] | None = None


class FleetServer:
    """Serves one supervisor's fleet on `path`; `stopping` is set when a client asks the fleet to stop."""

    def __init__(
        self,
        supervisor: Supervisor,
        store: SessionStore | None,
        path: Path,
        *,
        db_path: StoreTarget,
        queue_frames: int = QUEUE_FRAMES,
        stuck_after_s: float = STUCK_AFTER_S,
    ) -> None:
        self.supervisor = supervisor
        self.store = store
        self.path = path
        self.db_path = db_path
        self.queue_frames = queue_frames
        self.stuck_after_s = stuck_after_s
        self.started_at = time.time()
        self.stopping = asyncio.Event()
        self.dropped = 0
        self._clients: list[_Client] = []
        self._server: asyncio.Server | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def clients(self) -> list[str]:
        return [client.name for client in self._clients if client.follow]

    async def start(self) -> None:
        """Take the socket (cleaning a stale one, refusing a live one) and start serving."""
        if len(os.fsencode(self.path)) > MAX_SOCKET_PATH:
            raise wire.WireError(f"the fleet socket path {self.path} is too long for a Unix socket; set {wire.RUNTIME_ENV} to a shorter folder")
        clean_stale_socket(self.path)
        mask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=wire.MAX_CLIENT_LINE)
        finally:
            os.umask(mask)
        self.path.chmod(0o600)
        self._unsubscribe = self.supervisor.log.subscribe(self._told)

    async def close(self, reason: str, *, fault: bool = False) -> None:
        """Say goodbye to every client with `reason`, stop serving and remove the socket."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        bye = wire.line(wire.Bye(reason=reason, fault=fault))
        for client in list(self._clients):
            await self._flush_and_drop(client, bye)
        await cancel_and_drain(*self._handlers)

    def _told(self, event: Event, state: FleetState) -> None:
        """Queue one encoded event for every client; a client over its bound is owed a snapshot, or dropped."""
        if not self._clients:
            return
        frame = wire.event_line(event)
        for client in list(self._clients):
            if not client.follow:
                continue
            if len(client.lines) >= self.queue_frames:
                self._fell_behind(client)
            else:
                client.lines.append(frame)
                client.wake.set()

    def _fell_behind(self, client: _Client) -> None:
        blocked = client.blocked_since
        if client.resync and blocked is not None and time.monotonic() - blocked >= self.stuck_after_s:
            self._drop(client)
            return
        client.lines.clear()
        client.resync = client.behind = True
        client.wake.set()

    def _drop(self, client: _Client) -> None:
        """Forget a client that stopped reading; its connection is cut without waiting for it."""
        self.dropped += 1
        logger.warning("dropped the client %s: it stopped reading", client.name)
        self._forget(client)
        client.writer.transport.abort()

    def _forget(self, client: _Client) -> None:
        if client in self._clients:
            self._clients.remove(client)
        if client.task is not None:
            client.task.cancel()

    async def _flush_and_drop(self, client: _Client, last: bytes) -> None:
        self._forget(client)
        client.writer.write(last)
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(1.0):
                await client.writer.drain()
        client.writer.close()

    # a connection -------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._connection(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, TimeoutError):
            pass
        except asyncio.CancelledError:
            pass  # closing the server: asyncio would log a connection task that ends cancelled
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not wire.peer_allowed(wire.peer_uid(writer.get_extra_info("socket"))):
            writer.write(wire.line(wire.Bye(reason="this fleet belongs to another user")))
            return
        async with asyncio.timeout(HELLO_TIMEOUT_S):
            raw = await reader.readline()
        writer.write(wire.line(self.hello()))
        try:
            wire.check_protocol(raw, peer="the client")
            hello = wire.client_frame(raw)
        except (wire.WireError, ValidationError) as error:
            writer.write(wire.line(wire.Bye(reason=str(error))))
            return
        if not isinstance(hello, wire.ClientHello):
            return
        await self._attached(_Client(hello.client, writer, follow=hello.follow), reader)

    def hello(self) -> wire.FleetHello:
        """Who this fleet is and how it fares, for a client's first look."""
        state = self.supervisor.state
        return wire.FleetHello(
            session_id=self.supervisor.session_id,
            pid=os.getpid(),
            name=state.name,
            plan=state.plan,
            db=str(self.db_path),
            out_root=str(self.supervisor.out_root),
            started_at=self.started_at,
            clients=self.clients,
            agents=state.count_by_status(),
            tokens=state.tokens.total,
            cost_usd=state.cost_usd,
        )

    async def _attached(self, client: _Client, reader: asyncio.StreamReader) -> None:
        """Serve one client until it hangs up or is dropped: its frames out, its requests answered."""
        client.task = asyncio.create_task(self._send(client), name=f"fleet-client:{client.name}")
        self._clients.append(client)
        try:
            while client in self._clients:
                raw = await reader.readline()
                if not raw:
                    return
                await self._answer(client, raw)
        finally:
            self._forget(client)
            await cancel_and_drain(client.task)

    async def _send(self, client: _Client) -> None:
        """Write the client's frames as they come: a snapshot when owed one, else every queued line at once."""
        while True:
            await client.wake.wait()
            client.wake.clear()
            chunks = [client.replies.popleft() for _ in range(len(client.replies))]
            if client.resync:
                client.lines.clear()
                chunks.append(wire.snapshot_line(self.supervisor.state, behind=client.behind))
                client.resync = False
            chunks += [client.lines.popleft() for _ in range(len(client.lines))]
            client.writer.write(b"".join(chunks))
            client.blocked_since = time.monotonic()
            await client.writer.drain()
            client.blocked_since = None

    async def _answer(self, client: _Client, raw: bytes) -> None:
        try:
            frame = wire.client_frame(raw)
        except ValidationError as error:
            self._reply(client, wire.Reply(id=-1, error=f"a frame this fleet cannot read: {error.errors()[0]['msg']}"))
            return
        match frame:
            case wire.CommandFrame():
                self._reply(client, wire.Reply(id=frame.id, error=self._handle(frame)))
            case wire.CommitFrame():
                if self.store is not None:
                    await self.store.flush()
                self._reply(client, wire.Reply(id=frame.id))
            case wire.StopFrame():
                self.stopping.set()
                self._reply(client, wire.Reply(id=frame.id))
            case wire.ClientHello():
                self._reply(client, wire.Reply(id=-1, error="hello again: already attached"))

    def _handle(self, frame: wire.CommandFrame) -> str | None:
        try:
            self.supervisor.handle(frame.command)
        except CommandError as error:
            return str(error)
        return None

    def _reply(self, client: _Client, reply: wire.Reply) -> None:
        client.replies.append(wire.line(reply))
        client.wake.set()


def clean_stale_socket(path: Path) -> None:
    """Remove the socket at `path` if nothing listens on it any more; WireError if a fleet still does."""
    if not path.exists():
        return
    if socket_alive(path):
        raise wire.WireError(f"a fleet already listens on {path}")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def socket_alive(path: Path) -> bool:
    """Whether a process accepts connections on the Unix socket at `path` (False: stale, or not a socket)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError as error:
        if error.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            return True  # its backlog is full: alive, and busy
        return False
    finally:
        probe.close()
    return True
