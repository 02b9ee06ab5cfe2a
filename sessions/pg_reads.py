"""What `PgStore` reads and imports: sessions, events, snapshots, history queries, imports and deletes.

A mixin over the store's two connections: reads go through the autocommit reader (reconnected
once if the server dropped it), imports and deletes through the writer's connection, each in
one transaction, so a failed import leaves nothing.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

import psycopg

from tokenmaxx.sessions import pg_sql
from tokenmaxx.sessions.events import Event, from_row
from tokenmaxx.sessions.pg_locks import PgLocks
from tokenmaxx.sessions.pg_schema import connect, write_rollups
from tokenmaxx.sessions.schema import (
    Rollup,
    SessionSummary,
    StoreError,
    accumulate,
    summary_from_row,
)
from tokenmaxx.sessions.store import (
    IMPORT_CHUNK,
    READ_PAGE,
    AmbiguousSession,
    ImportRejected,
    SessionExists,
    SessionNotFound,
    SessionRunning,
    _check_importable,
    _row,
)
from tokenmaxx.sessions.store_api import Origin, Row, StatsRows, redact

_MAX_SEQ = 2**62


class PgReads:
    """Reads, imports and deletes of the PostgreSQL store (see `sessions.pg_store.PgStore`)."""

    path: str
    locks: PgLocks
    _url: str
    _conn: psycopg.AsyncConnection[Any]
    _reader: psycopg.AsyncConnection[Any]
    _lock: asyncio.Lock
    _read_lock: asyncio.Lock
    _next_seq: dict[str, int]

    def _check_writable(self) -> None: ...

    async def sessions(self) -> list[SessionSummary]:
        """Every session, newest first."""
        rows = await self._fetch(f"{pg_sql.SUMMARY_SQL} ORDER BY started_at DESC, id")
        alive = await self._liveness()
        return [summary_from_row(row, alive) for row in rows]

    async def session(self, session_id: str) -> SessionSummary:
        """One session by its full id."""
        rows = await self._fetch(f"{pg_sql.SUMMARY_SQL} WHERE id = %s", (session_id,))
        if not rows:
            raise SessionNotFound(self.path, session_id)  # type: ignore[arg-type]
        return summary_from_row(rows[0], await self._liveness())

    async def resolve(self, prefix: str) -> str:
        """The one session id that starts with `prefix` (like git's short hashes)."""
        if not prefix:
            raise SessionNotFound(self.path, prefix)  # type: ignore[arg-type]
        ids = [row[0] for row in await self._fetch(pg_sql.RESOLVE, (len(prefix), prefix))]
        if prefix in ids:
            return prefix
        if len(ids) == 1:
            return str(ids[0])
        if not ids:
            raise SessionNotFound(self.path, prefix)  # type: ignore[arg-type]
        raise AmbiguousSession(self.path, prefix, ids)  # type: ignore[arg-type]

    async def last_seq(self, session_id: str) -> int:
        """The highest committed seq of a session."""
        return (await self.session(session_id)).last_seq

    async def events(
        self, session_id: str, *, from_seq: int = 1, to_seq: int | None = None, agent: str | None = None
    ) -> list[Event]:
        """A session's events in seq order, optionally a seq range and one agent's only."""
        return [e async for e in self.iter_events(session_id, from_seq=from_seq, to_seq=to_seq, agent=agent)]

    async def iter_events(
        self, session_id: str, *, from_seq: int = 1, to_seq: int | None = None, agent: str | None = None, page_size: int = READ_PAGE
    ) -> AsyncIterator[Event]:
        """Like `events`, read a page at a time so that huge sessions stay cheap."""
        await self.session(session_id)
        sql, tail = pg_sql.events_sql(agent), (() if agent is None else (agent,))
        last = _MAX_SEQ if to_seq is None else to_seq
        start = from_seq
        while start <= last:
            rows = await self._fetch(sql, (session_id, *tail, start, last, page_size))
            for seq, ts, kind, payload in rows:
                yield from_row(session_id, seq, ts, kind, payload)
            if len(rows) < page_size:
                return
            start = rows[-1][0] + 1

    async def snapshot_before(self, session_id: str, seq: int) -> tuple[int, str] | None:
        """The latest snapshot taken at or before `seq`, as (seq, state JSON), if any."""
        rows = await self._fetch(pg_sql.SNAPSHOT_BEFORE, (session_id, seq))
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    async def markers_after(self, session_id: str, after: int, kinds: tuple[str, ...]) -> list[Row]:
        """The events of the given kinds after seq `after`, in order: (seq, ts, kind, agent, payload JSON)."""
        return await self._fetch(pg_sql.MARKERS, (session_id, list(kinds), after))

    async def events_before(self, session_id: str, seq: int, limit: int, agent: str | None = None) -> list[Event]:
        """The last `limit` events at or before `seq`, oldest first, optionally one agent's only."""
        params = (session_id, *(() if agent is None else (agent,)), seq, limit)
        rows = await self._fetch(pg_sql.events_before_sql(agent), params)
        return [from_row(session_id, *row) for row in reversed(rows)]

    async def timestamps(self, session_id: str, lo: int, hi: int) -> list[float]:
        """The `ts` of the events lo..hi, in seq order."""
        return [float(row[0]) for row in await self._fetch(pg_sql.TIMESTAMPS, (session_id, lo, hi))]

    async def snapshot_seqs(self, session_id: str, after: int) -> list[int]:
        """The seqs of the session's snapshots after `after`, in order."""
        return [int(row[0]) for row in await self._fetch(pg_sql.SNAPSHOT_SEQS, (session_id, after))]

    async def stats_rows(self, since: float) -> StatsRows:
        """The grouped rows `sessions.stats` tallies, for what happened at or after `since`."""
        await self._fetch(pg_sql.STATS_SETTINGS)
        found = {name: await self._fetch(sql, {"since": since}) for name, sql in pg_sql.STATS_QUERIES.items()}
        return StatsRows(**found)

    async def import_events(self, events: Iterable[Event], *, origin: Origin | None = None) -> str:
        """Write a whole session from its events, keeping its id and seqs, in one transaction; returns the id."""
        self._check_writable()
        who = origin or Origin(None, None)
        async with self._lock:
            try:
                async with self._conn.transaction(), self._conn.cursor() as cursor:
                    session_id, count, rollups = await self._copy_import(cursor, iter(events))
                    await write_rollups(cursor, rollups.values(), pid=None, host=who.host, user=who.user, heartbeat=None)
            except psycopg.errors.UniqueViolation:
                raise SessionExists(f"{self.path} already holds session {session_id}") from None
            except psycopg.Error as error:
                raise StoreError(f"{self.path}: {redact(str(error).strip())}") from None
        self._next_seq[session_id] = count
        return session_id

    async def _copy_import(self, cursor: psycopg.AsyncCursor[Any], events: Iterator[Event]) -> tuple[str, int, dict[str, Rollup]]:
        rollups: dict[str, Rollup] = {}
        session_id, count = "", 0
        while chunk := list(itertools.islice(events, IMPORT_CHUNK)):
            if not session_id:
                session_id = await self._new_import_id(cursor, chunk[0].session_id)
            _check_importable(self.path, session_id, count, chunk)  # type: ignore[arg-type]
            count += len(chunk)
            async with cursor.copy(pg_sql.COPY_EVENTS) as copy:
                for event in chunk:
                    await copy.write_row(_row(event))
            accumulate(rollups, chunk)
        if not session_id:
            raise ImportRejected(f"nothing to import into {self.path}: no events")
        return session_id, count, rollups

    async def _new_import_id(self, cursor: psycopg.AsyncCursor[Any], session_id: str) -> str:
        if not session_id:
            raise ImportRejected(f"nothing to import into {self.path}: events without a session id")
        await cursor.execute(pg_sql.SESSION_EXISTS, (session_id,))
        if session_id in self._next_seq or await cursor.fetchone() is not None:
            raise SessionExists(f"{self.path} already holds session {session_id}")
        return session_id

    async def delete_session(self, session_id: str) -> None:
        """Remove a session (its full id) and everything recorded of it, in one transaction; a running one is refused."""
        self._check_writable()
        summary = await self.session(session_id)
        if summary.status == "running":
            raise SessionRunning(f"session {session_id} is still running: stop it before deleting it")
        async with self._lock, self._conn.transaction():
            for table in pg_sql.SESSION_TABLES:
                column = "id" if table == "sessions" else "session_id"
                await self._conn.execute(f"DELETE FROM {table} WHERE {column} = %s", (session_id,))  # type: ignore[arg-type]
        self._next_seq.pop(session_id, None)

    async def _liveness(self) -> Any:
        try:
            return await asyncio.to_thread(self.locks.liveness)
        except StoreError:
            return lambda _session_id, _pid, _host: True

    async def _fetch(self, sql: str, params: Sequence[object] | dict[str, object] = ()) -> list[Row]:
        async with self._read_lock:
            for attempt in (1, 2):
                try:
                    return await (await self._reader.execute(sql, params)).fetchall()  # type: ignore[arg-type]
                except psycopg.OperationalError as error:
                    if attempt == 2 or not (self._reader.closed or self._reader.broken):
                        raise StoreError(f"{self.path}: {redact(str(error).strip())}") from None
                    await self._reopen_reader(error)
                except psycopg.Error as error:
                    raise StoreError(f"{self.path}: {redact(str(error).strip())}") from None
        raise AssertionError("unreachable")

    async def _reopen_reader(self, error: BaseException) -> None:
        try:
            self._reader = await connect(self._url, autocommit=True)
        except psycopg.Error:
            raise StoreError(f"{self.path}: {redact(str(error).strip())}") from None
