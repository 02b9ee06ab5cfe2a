"""The frames a fleet process and its clients exchange over the fleet's Unix socket: one JSON object a line.

    client -> fleet   hello(protocol, client, follow)   command(id, Command)   commit(id)   stop(id)
    fleet -> client   hello(protocol, session, pid, ...)   snapshot(state, behind)   event(Event)
                      reply(id, error)   bye(reason, fault)

The events and commands are the models the rest of tokenmaxx uses (`sessions.events`,
`agents.commands`); the frames only wrap them. The fleet answers every hello with its own,
whose `protocol` a client checks before reading anything else, so versions that cannot talk
say so. Lines are bounded both ways: a snapshot of a large fleet is the longest line there is.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import struct
import tempfile
import warnings
from pathlib import Path
from typing import Annotated, Literal, TypeAlias, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from tokenmaxx.agents.commands import Command
from tokenmaxx.sessions.events import Event, encode
from tokenmaxx.sessions.state import FleetState, state_to_json

PROTOCOL = 1
MAX_CLIENT_LINE = 1 << 20
"""The longest line a client may send (a reprompt's text is the longest part of one)."""
MAX_FLEET_LINE = 1 << 26
"""The longest line a fleet sends: a snapshot of a 500-agent fleet is well under a megabyte."""
RUNTIME_ENV = "TOKENMAXX_RUNTIME_DIR"
SOCKET_SUFFIX = ".sock"


class WireError(Exception):
    """A fleet or client that cannot be talked to: the message says why and what to do."""


class _Frame(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ClientHello(_Frame):
    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL
    client: str
    follow: bool = True  # False: a look (ps), answered with the fleet's hello alone


class CommandFrame(_Frame):
    type: Literal["command"] = "command"
    id: int
    command: Command


class CommitFrame(_Frame):
    """Asks the fleet to commit what it recorded so far, so the client can read it from the database."""

    type: Literal["commit"] = "commit"
    id: int


class StopFrame(_Frame):
    """Asks the fleet to stop every agent and end."""

    type: Literal["stop"] = "stop"
    id: int


ClientFrame: TypeAlias = Annotated[Union[ClientHello, CommandFrame, CommitFrame, StopFrame], Field(discriminator="type")]


class FleetHello(_Frame):
    """Who the fleet is, and a summary for `tokenmaxx ps`."""

    type: Literal["hello"] = "hello"
    protocol: int = PROTOCOL
    session_id: str
    pid: int
    name: str = ""
    plan: str | None = None
    db: str = ""
    out_root: str = ""
    started_at: float = 0.0
    clients: list[str] = []
    agents: dict[str, int] = {}
    tokens: int = 0
    cost_usd: float = 0.0


class Snapshot(_Frame):
    type: Literal["snapshot"] = "snapshot"
    state: FleetState
    behind: bool = False  # sent again because the client fell behind and missed events


class EventFrame(_Frame):
    type: Literal["event"] = "event"
    event: Event


class Reply(_Frame):
    type: Literal["reply"] = "reply"
    id: int
    error: str | None = None


class Bye(_Frame):
    """The fleet closes this connection: it ended, it stopped on a storage fault, or it dropped the client."""

    type: Literal["bye"] = "bye"
    reason: str
    fault: bool = False


FleetFrame: TypeAlias = Annotated[Union[FleetHello, Snapshot, EventFrame, Reply, Bye], Field(discriminator="type")]

_client_frames: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
_fleet_frames: TypeAdapter[FleetFrame] = TypeAdapter(FleetFrame)


def line(frame: _Frame) -> bytes:
    """One frame as a line."""
    return frame.model_dump_json().encode() + b"\n"


def event_line(event: Event) -> bytes:
    """An event frame built from the event's own codec, without a second pass through pydantic."""
    return b'{"type":"event","event":' + encode(event).encode() + b"}\n"


def snapshot_line(state: FleetState, *, behind: bool = False) -> bytes:
    return b'{"type":"snapshot","behind":' + (b"true" if behind else b"false") + b',"state":' + state_to_json(state).encode() + b"}\n"


def client_frame(raw: bytes) -> ClientFrame:
    """Parse a line a client sent; raises pydantic's ValidationError."""
    return _client_frames.validate_json(raw)


def fleet_frame(raw: bytes) -> FleetFrame:
    """Parse a line the fleet sent; raises pydantic's ValidationError."""
    return _fleet_frames.validate_json(raw)


def check_protocol(raw: bytes, *, peer: str) -> None:
    """Raise WireError unless the hello in `raw` speaks this PROTOCOL (read before anything else in it is trusted)."""
    try:
        found = json.loads(raw).get("protocol")
    except (ValueError, AttributeError):
        found = None
    if found != PROTOCOL:
        raise WireError(
            f"{peer} speaks fleet protocol {found!r}, this tokenmaxx speaks {PROTOCOL}: "
            "use the tokenmaxx version that started the fleet (or stop it and start it again with this one)"
        )


# -- where the sockets live, and who may use them ------------------------------------------------


def fleet_dir() -> Path:
    """The folder of this user's fleet sockets (0700, owned by this user), made if missing."""
    folder = _runtime_base() / "fleets"
    for level in (folder.parent, folder):
        level.mkdir(mode=0o700, exist_ok=True)
        _check_private(level)
    return folder


def _runtime_base() -> Path:
    given = os.environ.get(RUNTIME_ENV)
    if given:
        return Path(given)
    import platformdirs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no XDG_RUNTIME_DIR: platformdirs warns and picks /tmp/runtime-UID
        base = platformdirs.user_runtime_path()
    if not base.parent.is_dir():
        base = Path(tempfile.gettempdir()) / f"runtime-{os.getuid()}"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    return base / "tokenmaxx"


def _check_private(folder: Path) -> None:
    """Refuse a folder another user owns (a trap laid in /tmp); make one of ours owner-only."""
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise WireError(f"{folder} is not a folder of this user's: remove it, or set {RUNTIME_ENV} to a private folder")
    if info.st_mode & 0o077:
        folder.chmod(0o700)


def socket_path(session_id: str, folder: Path | None = None) -> Path:
    return (folder or fleet_dir()) / f"{session_id}{SOCKET_SUFFIX}"


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


def peer_allowed(uid: int, own_uid: int | None = None) -> bool:
    """Only this user may attach to, watch or command a fleet: root included, another uid is refused."""
    return uid == (os.getuid() if own_uid is None else own_uid)
