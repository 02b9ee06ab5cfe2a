"""What every session store offers, and `open_store`, which picks the backend from the target's form.

A target is a path (an SQLite file, `sessions.store.Store`) or a `postgresql://` URL (a shared
server, `sessions.pg_store.PgStore`, whose driver is imported only then). Nothing above
`sessions/` needs to know which one it holds: it names the store by its `StoreTarget`, opens it
with `open_store`, shows it with `describe` (a URL's password never leaves this module) and asks
the store only what `SessionStore` lists. The history readers (replay, stats) ask by name
(`markers_after`, `events_before`, `timestamps`, `snapshot_seqs`, `stats_rows`), never in SQL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Self, TypeAlias, runtime_checkable

from tokenmaxx.sessions.events import Event
from tokenmaxx.sessions.schema import SessionSummary, StoreError

StoreTarget: TypeAlias = "Path | str"
"""Where sessions live: an SQLite file's path, or a PostgreSQL URL."""

_URL = re.compile(r"^(postgresql|postgres)://", re.IGNORECASE)
_PASSWORD_IN_TEXT = re.compile(r"((?:postgresql|postgres)://[^:/@\s]*):[^@\s]*@", re.IGNORECASE)

Row: TypeAlias = tuple[Any, ...]


@dataclass
class StatsRows:
    """The grouped rows `sessions.stats` tallies: one list per question, each in the SQLite store's column order."""

    agents: list[Row] = field(default_factory=list)
    usage: list[Row] = field(default_factory=list)
    reviews: list[Row] = field(default_factory=list)
    actions: list[Row] = field(default_factory=list)
    starts: list[Row] = field(default_factory=list)
    finishes: list[Row] = field(default_factory=list)
    downtime: list[Row] = field(default_factory=list)
    diffs: list[Row] = field(default_factory=list)
    rework: list[Row] = field(default_factory=list)


@runtime_checkable
class SessionStore(Protocol):
    """The store contract both backends keep: batched ordered appends, reads, seeks and history queries."""

    path: Any
    locks: Any

    def append(self, session_id: str, event: Event) -> Event: ...
    def append_snapshot(self, session_id: str, seq: int, state_json: str) -> None: ...
    async def flush(self) -> None: ...
    async def wait_committed(self) -> None: ...
    async def close(self) -> None: ...
    async def check_writable(self) -> None: ...
    @property
    def has_failed(self) -> bool: ...
    async def failed(self) -> StoreError: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None: ...

    async def sessions(self) -> list[SessionSummary]: ...
    async def session(self, session_id: str) -> SessionSummary: ...
    async def resolve(self, prefix: str) -> str: ...
    async def last_seq(self, session_id: str) -> int: ...
    async def events(
        self, session_id: str, *, from_seq: int = 1, to_seq: int | None = None, agent: str | None = None
    ) -> list[Event]: ...
    def iter_events(
        self, session_id: str, *, from_seq: int = 1, to_seq: int | None = None, agent: str | None = None, page_size: int = ...
    ) -> AsyncIterator[Event]: ...
    async def snapshot_before(self, session_id: str, seq: int) -> tuple[int, str] | None: ...
    async def import_events(self, events: Iterable[Event], *, origin: Origin | None = None) -> str: ...
    async def delete_session(self, session_id: str) -> None: ...
    async def copy_to(self, target: Path, max_bytes: int = ...) -> Path: ...

    async def markers_after(self, session_id: str, after: int, kinds: tuple[str, ...]) -> list[Row]: ...
    async def events_before(self, session_id: str, seq: int, limit: int, agent: str | None = None) -> list[Event]: ...
    async def timestamps(self, session_id: str, lo: int, hi: int) -> list[float]: ...
    async def snapshot_seqs(self, session_id: str, after: int) -> list[int]: ...
    async def stats_rows(self, since: float) -> StatsRows: ...


@dataclass(frozen=True)
class Origin:
    """Who ran a session and where, kept when a session is copied between stores."""

    user: str | None
    host: str | None


def is_url(target: StoreTarget) -> bool:
    """Whether the target names a PostgreSQL server rather than a file."""
    return isinstance(target, str) and bool(_URL.match(target.strip()))


def as_target(text: str | Path) -> StoreTarget:
    """A --db value or TOKENMAXX_DB as a target: a URL stays text, anything else is a path."""
    return text.strip() if is_url(text) else Path(text).expanduser()


def describe(target: StoreTarget) -> str:
    """The target as it may be shown: a URL without its password."""
    return redact(str(target)) if is_url(target) else str(target)


def redact(text: str) -> str:
    """`text` with the password of every PostgreSQL URL in it replaced by `***`."""
    return _PASSWORD_IN_TEXT.sub(r"\1:***@", text)


def store_exists(target: StoreTarget) -> bool:
    """Whether there may be sessions to read: a file that exists, or any server."""
    return True if is_url(target) else Path(target).exists()


async def open_store(target: StoreTarget) -> SessionStore:
    """Open the store the target names (creating or migrating its schema)."""
    if is_url(target):
        from tokenmaxx.sessions.pg_store import PgStore

        return await PgStore.open(str(target))
    from tokenmaxx.sessions.store import Store

    return await Store.open(target)
