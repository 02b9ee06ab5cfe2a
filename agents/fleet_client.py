"""The client end of a fleet's socket: connect and say hello, send frames, read frames; and find this user's fleets.

`FleetConnection` is what the TUI's `RemoteFleet`, `tokenmaxx ctl`, `stop` and `ps` build on.
A fleet that cannot be reached, refuses this user or speaks another protocol is a `WireError`
whose message says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from tokenmaxx.agents import wire
from tokenmaxx.agents.commands import Command
from tokenmaxx.agents.serve import socket_alive

HELLO_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 30.0


class FleetGone(wire.WireError):
    """Nothing listens on the fleet's socket any more: the fleet process has ended or was killed."""


class FleetConnection:
    """One connection to a fleet process, after the hellos."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hello: wire.FleetHello, path: Path) -> None:
        self.reader = reader
        self.writer = writer
        self.hello = hello
        self.path = path
        self._ids = itertools.count(1)

    @classmethod
    async def open(cls, path: Path, client: str, *, follow: bool = True) -> FleetConnection:
        """Connect to the fleet at `path` as `client`; raises WireError (FleetGone when nothing listens)."""
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=wire.MAX_FLEET_LINE)
        except (FileNotFoundError, ConnectionRefusedError) as error:
            raise FleetGone(f"no fleet listens on {path} ({error.strerror or error})") from None
        try:
            writer.write(wire.line(wire.ClientHello(client=client, follow=follow)))
            async with asyncio.timeout(HELLO_TIMEOUT_S):
                raw = await reader.readline()
            return cls(reader, writer, _fleet_hello(raw, path), path)
        except BaseException:
            writer.close()
            raise

    def next_id(self) -> int:
        return next(self._ids)

    def send(self, frame: wire.CommandFrame | wire.CommitFrame | wire.StopFrame) -> None:
        self.writer.write(wire.line(frame))

    async def frame(self) -> wire.FleetFrame | None:
        """The next frame from the fleet; None once it hung up."""
        try:
            raw = await self.reader.readline()
        except (ConnectionError, ValueError):
            return None
        if not raw:
            return None
        try:
            return wire.fleet_frame(raw)
        except ValidationError as error:
            raise wire.WireError(f"the fleet sent a frame this tokenmaxx cannot read: {error.errors()[0]['msg']}") from None

    async def reply(self, frame_id: int) -> wire.Reply:
        """Wait for the reply to `frame_id`, passing over any other frame (a client that does not follow gets none)."""
        async with asyncio.timeout(REPLY_TIMEOUT_S):
            while True:
                frame = await self.frame()
                if frame is None:
                    raise FleetGone("the fleet hung up before it answered")
                if isinstance(frame, wire.Bye):
                    raise FleetGone(frame.reason)
                if isinstance(frame, wire.Reply) and frame.id == frame_id:
                    return frame

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def _fleet_hello(raw: bytes, path: Path) -> wire.FleetHello:
    if not raw:
        raise FleetGone(f"the fleet on {path} hung up without a word")
    with contextlib.suppress(ValidationError):
        bye = wire.fleet_frame(raw)
        if isinstance(bye, wire.Bye):
            raise wire.WireError(f"the fleet on {path} refused: {bye.reason}")
    wire.check_protocol(raw, peer=f"the fleet on {path}")
    return wire.FleetHello.model_validate_json(raw)


async def command(path: Path, client: str, sent: Command) -> str | None:
    """Send one command to the fleet at `path`; its refusal, or None when it was carried out."""
    connection = await FleetConnection.open(path, client, follow=False)
    try:
        frame_id = connection.next_id()
        connection.send(wire.CommandFrame(id=frame_id, command=sent))
        return (await connection.reply(frame_id)).error
    finally:
        await connection.close()


async def stop(path: Path, client: str) -> None:
    """Ask the fleet at `path` to stop every agent and end, and wait until it has hung up."""
    connection = await FleetConnection.open(path, client, follow=False)
    try:
        connection.send(wire.StopFrame(id=connection.next_id()))
        while await connection.frame() is not None:
            pass
    finally:
        await connection.close()


@dataclass(frozen=True)
class FoundFleet:
    """A socket in the fleet folder: the fleet's hello when it answered; else why not (`dead`: nothing listens)."""

    session_id: str
    path: Path
    hello: wire.FleetHello | None
    problem: str = ""

    @property
    def dead(self) -> bool:
        return self.hello is None and not self.problem


async def find_fleets(folder: Path | None = None, *, clean: bool = False) -> list[FoundFleet]:
    """Every fleet socket of this user, each looked at; with `clean`, the sockets of dead fleets are removed."""
    folder = folder or wire.fleet_dir()
    found = []
    for path in sorted(folder.glob(f"*{wire.SOCKET_SUFFIX}")):
        found.append(await _look(path))
        if clean and found[-1].dead and not socket_alive(path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return found


async def _look(path: Path) -> FoundFleet:
    session_id = path.name.removesuffix(wire.SOCKET_SUFFIX)
    try:
        connection = await FleetConnection.open(path, "ps", follow=False)
    except FleetGone:
        return FoundFleet(session_id, path, None)
    except (wire.WireError, TimeoutError, OSError) as error:
        return FoundFleet(session_id, path, None, str(error) or type(error).__name__)
    await connection.close()
    return FoundFleet(session_id, path, connection.hello)
