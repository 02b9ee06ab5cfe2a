"""The store's file format: opening checks, forward migrations, roll-ups and session rows.

Each migration step moves `PRAGMA user_version` up by one and never drops user history. The
roll-ups (tokens, cost, agents, reviews, status) are computed here from events, so the writer,
an import and the v1 -> v2 back-fill all count the same way. The errors about the file itself
live here; `sessions.store` draws the whole hierarchy.
"""

from __future__ import annotations

import getpass
import os
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite
from pydantic import BaseModel

from tokenmaxx.sessions.events import (
    AgentQueued,
    ArtifactReview,
    Event,
    SessionEnded,
    SessionResumed,
    SessionStarted,
    UsageReported,
    from_row,
)

Liveness = Callable[[str, "int | None", "str | None"], bool]
"""Whether the writer of a session (id, recorded pid, recorded host) that the database calls running is alive."""

SCHEMA_VERSION = 4
BACKFILL_PAGE = 5000
BUSY_TIMEOUT_MS = 5_000
HOST = socket.gethostname()


def _user() -> str:
    """The login name of whoever runs this process, or its uid where there is none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


USER = _user()
_SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(Exception):
    """The store could not do what was asked; the message names the file."""


class SchemaTooNew(StoreError):
    """The database was written by a newer tokenmaxx than this one."""

    def __init__(self, path: Path, found: int, supported: int) -> None:
        self.path, self.found, self.supported = path, found, supported
        super().__init__(
            f"{path} was written by a newer tokenmaxx (schema {found}, this version reads up to "
            f"{supported}); upgrade tokenmaxx"
        )


class NotADatabase(StoreError):
    """The file is not an SQLite database, or is damaged."""

    def __init__(self, path: Path, detail: str = "") -> None:
        self.path = path
        suffix = f" ({detail})" if detail else ""
        super().__init__(f"{path} is not a tokenmaxx session database{suffix}; it was left untouched")


V1_STATEMENTS = (
    """CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        plan TEXT,
        cwd TEXT NOT NULL DEFAULT '',
        version TEXT NOT NULL DEFAULT '',
        prices TEXT,
        started_at REAL NOT NULL,
        ended_at REAL,
        status TEXT NOT NULL DEFAULT 'running',
        pid INTEGER,
        host TEXT
    )""",
    """CREATE TABLE events (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        kind TEXT NOT NULL,
        agent TEXT,
        payload TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE snapshots (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
    )""",
)

TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_COUNTS_AFTER_COST = ("unknown_price_tokens", "accepted", "rejected", "last_seq")
_COUNTERS = ("agents", *TOKEN_FIELDS, *_COUNTS_AFTER_COST)
ROLLUP_COLUMNS = ("agents", *TOKEN_FIELDS, "cost_usd", *_COUNTS_AFTER_COST)

V2_STATEMENTS = (
    *(f"ALTER TABLE sessions ADD COLUMN {name} INTEGER NOT NULL DEFAULT 0" for name in _COUNTERS),
    "ALTER TABLE sessions ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0",
    "ALTER TABLE sessions ADD COLUMN last_ts REAL",
    """CREATE TABLE agents (
        session_id TEXT NOT NULL,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        PRIMARY KEY (session_id, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE reviews (
        session_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        path TEXT NOT NULL,
        verdict TEXT NOT NULL,
        PRIMARY KEY (session_id, agent, path)
    ) WITHOUT ROWID""",
    "CREATE INDEX events_by_agent ON events (session_id, agent, seq)",
    "CREATE INDEX sessions_by_start ON sessions (started_at)",
)

# Replay markers and stats read a few kinds of a session without scanning every payload.
V3_STATEMENTS = ("CREATE INDEX events_by_kind ON events (session_id, kind, seq)",)
# Who ran each session (its host was there from the start), for a team's filters.
V4_STATEMENTS = ("ALTER TABLE sessions ADD COLUMN user_name TEXT",)


@dataclass
class Rollup:
    """What a run of events adds to one session's row."""

    session_id: str
    first_ts: float
    last_seq: int = 0
    last_ts: float = 0.0
    tokens: list[int] = field(default_factory=lambda: [0] * len(TOKEN_FIELDS))
    cost_usd: float = 0.0
    unknown_price_tokens: int = 0
    started: SessionStarted | None = None
    status: tuple[str, float | None] | None = None
    agents: dict[str, AgentQueued] = field(default_factory=dict)
    reviews: dict[tuple[str, str], str] = field(default_factory=dict)


_ROLLUP_KINDS = frozenset(
    {"session_started", "session_ended", "session_resumed", "agent_queued", "usage", "artifact_review"}
)


def accumulate(rollups: dict[str, Rollup], events: Iterable[Event]) -> dict[str, Rollup]:
    """Fold events into per-session roll-ups, in order, and return the same dict."""
    for event in events:
        fold(rollups, event)
    return rollups


def fold(rollups: dict[str, Rollup], event: Event) -> None:
    """Fold one event into its session's roll-up."""
    rollup = rollups.get(event.session_id)
    if rollup is None:
        rollup = rollups[event.session_id] = Rollup(event.session_id, event.ts)
    if event.seq > rollup.last_seq:
        rollup.last_seq = event.seq
    if event.ts > rollup.last_ts:
        rollup.last_ts = event.ts
    if event.kind in _ROLLUP_KINDS:
        _fold_kind(rollup, event)


def _fold_kind(rollup: Rollup, event: Event) -> None:
    if isinstance(event, UsageReported):
        _fold_usage(rollup, event)
    elif isinstance(event, AgentQueued):
        rollup.agents[event.agent] = event
    elif isinstance(event, ArtifactReview):
        rollup.reviews[(event.agent, event.path)] = event.verdict
    elif isinstance(event, SessionStarted):
        rollup.started = event
        rollup.status = ("running", None)
    elif isinstance(event, SessionResumed):
        rollup.status = ("running", None)
    elif isinstance(event, SessionEnded):
        rollup.status = (event.status, event.ts)


def _fold_usage(rollup: Rollup, usage: UsageReported) -> None:
    for index, name in enumerate(TOKEN_FIELDS):
        rollup.tokens[index] += getattr(usage, name)
    if usage.cost_usd is None:
        rollup.unknown_price_tokens += usage.input_tokens + usage.output_tokens
    else:
        rollup.cost_usd += usage.cost_usd


_INSERT_SESSION = "INSERT OR IGNORE INTO sessions (id, started_at, pid, host) VALUES (?, ?, ?, ?)"
_UPDATE_STARTED = (
    "UPDATE sessions SET name = ?, plan = ?, cwd = ?, version = ?, prices = ?, started_at = ? WHERE id = ?"
)
_UPDATE_STATUS = "UPDATE sessions SET status = ?, ended_at = ? WHERE id = ?"
_UPDATE_USER = "UPDATE sessions SET user_name = ? WHERE id = ?"
_UPSERT_AGENT = "INSERT OR REPLACE INTO agents (session_id, name, role, provider, model) VALUES (?, ?, ?, ?, ?)"
_UPSERT_REVIEW = "INSERT OR REPLACE INTO reviews (session_id, agent, path, verdict) VALUES (?, ?, ?, ?)"
_UPDATE_TOTALS = f"""UPDATE sessions SET
    {", ".join(f"{name} = {name} + ?" for name in TOKEN_FIELDS)},
    cost_usd = cost_usd + ?,
    unknown_price_tokens = unknown_price_tokens + ?,
    last_seq = max(last_seq, ?),
    last_ts = max(coalesce(last_ts, 0), ?),
    pid = coalesce(?, pid),
    host = coalesce(?, host),
    agents = (SELECT count(*) FROM agents WHERE session_id = sessions.id),
    accepted = (SELECT count(*) FROM reviews WHERE session_id = sessions.id AND verdict = 'accepted'),
    rejected = (SELECT count(*) FROM reviews WHERE session_id = sessions.id AND verdict = 'rejected')
    WHERE id = ?"""


async def apply_rollups(
    db: aiosqlite.Connection,
    rollups: Iterable[Rollup],
    *,
    pid: int | None,
    host: str | None,
    user: str | None = None,
) -> None:
    """Write roll-ups into the sessions rows (inside the caller's transaction); `user` defaults to this process's on a writer's (`host` given)."""
    for sql, params in rollup_statements(rollups, pid=pid, host=host, user=user):
        await db.executemany(sql, params)


def rollup_statements(
    rollups: Iterable[Rollup], *, pid: int | None, host: str | None, user: str | None = None
) -> list[tuple[str, list[tuple[object, ...]]]]:
    """The statements, each with its rows of parameters, that write roll-ups into the sessions rows, in order."""
    rows = list(rollups)
    user = user if user is not None or host is None else USER
    statements: list[tuple[str, list[tuple[object, ...]]]] = [
        (_INSERT_SESSION, [(r.session_id, r.first_ts, pid, host) for r in rows]),
        (_UPDATE_STARTED, [_started_row(r.session_id, r.started) for r in rows if r.started]),
        (_UPSERT_AGENT, [_agent_row(r.session_id, a) for r in rows for a in r.agents.values()]),
        (_UPSERT_REVIEW, [(r.session_id, *key, verdict) for r in rows for key, verdict in r.reviews.items()]),
        (_UPDATE_STATUS, [(*r.status, r.session_id) for r in rows if r.status]),
        (_UPDATE_TOTALS, [_totals_row(r, pid, host) for r in rows]),
        (_UPDATE_USER, [(user, r.session_id) for r in rows if user is not None]),
    ]
    return [(sql, params) for sql, params in statements if params]


def _started_row(session_id: str, started: SessionStarted) -> tuple[object, ...]:
    return (started.name, started.plan, started.cwd, started.version, started.prices, started.ts, session_id)


def _agent_row(session_id: str, queued: AgentQueued) -> tuple[object, ...]:
    return (session_id, queued.agent, queued.role, queued.provider, queued.model)


def _totals_row(rollup: Rollup, pid: int | None, host: str | None) -> tuple[object, ...]:
    return (
        *rollup.tokens,
        rollup.cost_usd,
        rollup.unknown_price_tokens,
        rollup.last_seq,
        rollup.last_ts,
        pid,
        host,
        rollup.session_id,
    )


async def _backfill_rollups(db: aiosqlite.Connection) -> None:
    """Compute the v2 roll-ups of every session from its events."""
    rollups: dict[str, Rollup] = {}
    cursor = await db.execute("SELECT session_id, seq, ts, kind, payload FROM events ORDER BY session_id, seq")
    try:
        while rows := await cursor.fetchmany(BACKFILL_PAGE):
            accumulate(rollups, (from_row(*row) for row in rows))
    finally:
        await cursor.close()
    await apply_rollups(db, rollups.values(), pid=None, host=None)


@dataclass(frozen=True)
class Migration:
    """One forward step: DDL statements, then an optional data back-fill."""

    version: int
    statements: tuple[str, ...]
    backfill: Callable[[aiosqlite.Connection], Awaitable[None]] | None = None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, V1_STATEMENTS),
    Migration(2, V2_STATEMENTS, _backfill_rollups),
    Migration(3, V3_STATEMENTS),
    Migration(4, V4_STATEMENTS),
)


async def user_version(db: aiosqlite.Connection) -> int:
    """The schema version recorded in the file (0 for a new file)."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


def check_header(path: Path) -> None:
    """Refuse a non-empty file that does not start with SQLite's magic header."""
    try:
        with path.open("rb") as file:
            header = file.read(len(_SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except OSError as error:
        raise StoreError(f"{path}: {error.strerror or error}") from error
    if header and header != _SQLITE_MAGIC:
        raise NotADatabase(path, "no SQLite header")


async def prepare(db: aiosqlite.Connection, path: Path) -> None:
    """Check the schema version before any write, then set WAL and migrate forward."""
    try:
        found = await user_version(db)
        tables = await db.execute_fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    except sqlite3.DatabaseError as error:
        if error.sqlite_errorcode == sqlite3.SQLITE_NOTADB:
            raise NotADatabase(path, str(error)) from error
        raise  # a lock, a read-only or damaged file: the store names the fault
    if found == 0 and list(tables):
        raise NotADatabase(path, "it holds another program's tables")
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(path, found, SCHEMA_VERSION)
    await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await db.execute("PRAGMA journal_mode = WAL")
    await db.execute("PRAGMA synchronous = NORMAL")
    if found < SCHEMA_VERSION:
        await _migrate(db, path)


async def _migrate(db: aiosqlite.Connection, path: Path) -> None:
    await db.execute("BEGIN IMMEDIATE")
    try:
        found = await user_version(db)
        if found > SCHEMA_VERSION:
            raise SchemaTooNew(path, found, SCHEMA_VERSION)
        await apply_migrations(db, found)
        await db.execute("COMMIT")
    except BaseException:
        await rollback(db)
        raise


async def rollback(db: aiosqlite.Connection) -> None:
    """Roll back the open transaction, if there is one."""
    if db.in_transaction:
        await db.execute("ROLLBACK")


async def apply_migrations(db: aiosqlite.Connection, found: int, target: int = SCHEMA_VERSION) -> None:
    """Run the steps after `found` up to `target` (inside the caller's transaction)."""
    for step in MIGRATIONS[found:target]:
        for statement in step.statements:
            await db.execute(statement)
        if step.backfill is not None:
            await step.backfill(db)
        await db.execute(f"PRAGMA user_version = {step.version}")


class SessionSummary(BaseModel):
    """One session's row: identity, status, duration (without the time its process was dead) and roll-ups."""

    id: str
    name: str
    plan: str | None
    cwd: str
    status: str
    started_at: float
    ended_at: float | None
    duration_s: float
    agents: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float
    unknown_price_tokens: int
    accepted: int
    rejected: int
    last_seq: int
    user: str | None = None
    host: str | None = None


_DOWNTIME_OF_ROW = (  # the time between a resume and the event before it: the process was dead, no one worked
    "(SELECT coalesce(sum(r.ts - p.ts), 0) FROM events r INDEXED BY events_by_kind"
    " JOIN events p ON p.session_id = r.session_id AND p.seq = r.seq - 1"
    " WHERE r.session_id = sessions.id AND r.kind = 'session_resumed')"
)
SUMMARY_SQL = (
    f"SELECT id, name, plan, cwd, status, started_at, ended_at, last_ts, pid, host, user_name, {_DOWNTIME_OF_ROW}, "
    f"{', '.join(ROLLUP_COLUMNS)} FROM sessions"
)


def summary_from_row(row: Iterable[object], is_running: Liveness) -> SessionSummary:
    """Map a SUMMARY_SQL row to a summary, reading a dead writer's session as interrupted."""
    session_id, name, plan, cwd, status, started_at, ended_at, last_ts, pid, host, user, downtime, *rollups = row
    status = _effective_status(session_id, status, pid, host, is_running)
    return SessionSummary(
        id=session_id,
        name=name,
        plan=plan,
        cwd=cwd,
        status=status,
        started_at=started_at,
        ended_at=ended_at,
        duration_s=max(0.0, _duration(status, started_at, ended_at, last_ts) - float(downtime)),
        user=user,
        host=host,
        **dict(zip(ROLLUP_COLUMNS, rollups, strict=True)),
    )


def _effective_status(session_id: str, status: str, pid: int | None, host: str | None, is_running: Liveness) -> str:
    """A session the database calls running whose writer is gone reads as interrupted."""
    if status != "running":
        return status
    return status if is_running(session_id, pid, host) else "interrupted"


def _duration(status: str, started_at: float, ended_at: float | None, last_ts: float | None) -> float:
    if ended_at is not None:
        end = ended_at
    elif status == "running":
        end = time.time()
    else:
        end = last_ts if last_ts is not None else started_at
    return max(0.0, end - started_at)
