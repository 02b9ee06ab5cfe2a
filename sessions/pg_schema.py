"""Opening a PostgreSQL database: its schema's version, forward migrations, roll-up writes and the client's time zone."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg

from tokenmaxx.sessions import pg_sql
from tokenmaxx.sessions.schema import (
    HOST,
    USER,
    NotADatabase,
    Rollup,
    SchemaTooNew,
    _agent_row,
    _started_row,
    _totals_row,
)

CONNECT_TIMEOUT_S = 5


async def connect(url: str, *, autocommit: bool) -> psycopg.AsyncConnection[Any]:
    """A connection in the client's time zone (stats count local days)."""
    conn = await psycopg.AsyncConnection.connect(
        url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT_S, application_name=f"tokenmaxx {USER}@{HOST}"
    )
    zone = local_timezone()
    if zone:
        await conn.execute("SELECT set_config('TimeZone', %s, false)", (zone,))
        if not autocommit:
            await conn.commit()
    return conn


async def migrate(conn: psycopg.AsyncConnection[Any], where: str) -> None:
    """Check the schema's version, then move it forward, one opener at a time (inside one transaction)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (pg_sql.MIGRATION_LOCK,))
        found = await _version(conn)
        if found == 0 and await _scalar(conn, pg_sql.SESSIONS_TABLE_EXISTS):
            raise NotADatabase(where, "it holds another program's tables")  # type: ignore[arg-type]
        if found > pg_sql.SCHEMA_VERSION:
            raise SchemaTooNew(where, found, pg_sql.SCHEMA_VERSION)  # type: ignore[arg-type]
        await apply_migrations(conn, found)


async def apply_migrations(conn: psycopg.AsyncConnection[Any], found: int, target: int = pg_sql.SCHEMA_VERSION) -> None:
    """Run the steps after `found` up to `target` (inside the caller's transaction)."""
    for version, statements in enumerate(pg_sql.MIGRATIONS[found:target], start=found + 1):
        for statement in statements:
            await conn.execute(statement)  # type: ignore[arg-type]
        await conn.execute(pg_sql.CLEAR_VERSION)
        await conn.execute(pg_sql.SET_VERSION, (version,))


async def _version(conn: psycopg.AsyncConnection[Any]) -> int:
    if not await _scalar(conn, pg_sql.SCHEMA_TABLE_EXISTS):
        return 0
    return int(await _scalar(conn, pg_sql.READ_VERSION))


async def _scalar(conn: psycopg.AsyncConnection[Any], sql: str) -> Any:
    row = await (await conn.execute(sql)).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


async def write_rollups(
    cursor: psycopg.AsyncCursor[Any],
    rollups: Iterable[Rollup],
    *,
    pid: int | None,
    host: str | None,
    user: str | None,
    heartbeat: float | None,
) -> None:
    """Write roll-ups into the sessions rows (inside the caller's transaction)."""
    rows = list(rollups)
    await cursor.executemany(pg_sql.INSERT_SESSION, [(r.session_id, r.first_ts, pid, host, user) for r in rows])
    statements: list[tuple[str, list[tuple[object, ...]]]] = [
        (pg_sql.UPDATE_STARTED, [_started_row(r.session_id, r.started) for r in rows if r.started]),
        (pg_sql.UPSERT_AGENT, [_agent_row(r.session_id, a) for r in rows for a in r.agents.values()]),
        (pg_sql.UPSERT_REVIEW, [(r.session_id, *key, verdict) for r in rows for key, verdict in r.reviews.items()]),
        (pg_sql.UPDATE_STATUS, [(*r.status, r.session_id) for r in rows if r.status]),
        (pg_sql.UPDATE_TOTALS, [_totals(r, pid, host, user, heartbeat) for r in rows]),
    ]
    for sql, params in statements:
        if params:
            await cursor.executemany(sql, params)  # type: ignore[arg-type]


def _totals(rollup: Rollup, pid: int | None, host: str | None, user: str | None, heartbeat: float | None) -> tuple[object, ...]:
    *counts, session_id = _totals_row(rollup, pid, host)
    return (*counts, user, heartbeat, session_id)


def local_timezone() -> str | None:
    """This machine's time zone name (TZ, else /etc/localtime's), so that the server counts local days; None if unknown."""
    named = os.environ.get("TZ", "").lstrip(":")
    if named and not named.startswith("/"):
        return named
    try:
        target = str(Path(named or "/etc/localtime").resolve())
    except OSError:
        return None
    _, found, zone = target.partition("zoneinfo/")
    return zone if found else None
