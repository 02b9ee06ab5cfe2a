"""The session store: one SQLite file holding sessions, their events and state snapshots.

One `Store` owns one aiosqlite connection for reads and one writer thread with its own
connection (`sessions.sqlite_writer`). `append` stamps an event with its session's next
gap-free `seq` and queues it without waiting; the writer thread commits the queue in batched
transactions (every 50 ms or 500 events, whichever comes first) and keeps each session's
roll-ups in the same transaction, however busy the event loop is. When the writer falls more
than `ROOM_EVENTS` behind, `room()` makes writers wait for it (backpressure). Readers in other processes see every committed batch (WAL). A store holds the lock
of every session it writes until it closes, and reads liveness from the locks (`sessions.session_lock`).

Errors::

    StoreError                 anything the store cannot do; the message names the file
    ├── StorageFault           the disk is full, the file read-only, locked or corrupt (sessions.faults)
    ├── SchemaTooNew           the file was written by a newer tokenmaxx; nothing was written
    ├── NotADatabase           the file is not an SQLite database or is corrupt; nothing was written
    ├── CopyRefused            a history snapshot too large to copy, or unreadable (sessions.backup)
    ├── SessionNotFound        no session has that id or id prefix
    ├── AmbiguousSession       an id prefix matches several sessions
    ├── SessionBusy            another process (or this store) holds the session's lock
    ├── LockUnavailable        the session's lock file cannot be made or locked
    ├── SessionRunning         a running session cannot be deleted
    └── ImportRejected         the events do not form one importable session
        └── SessionExists      the store already holds a session with that id
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import os
import secrets
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Self

import aiosqlite
import platformdirs

from tokenmaxx.sessions import history_sql
from tokenmaxx.sessions.backup import MAX_COPY_BYTES, CopyRefused, copy_database
from tokenmaxx.sessions.events import Event, from_row, payload_json
from tokenmaxx.sessions.faults import StorageFault, storage_fault
from tokenmaxx.sessions.schema import (
    SUMMARY_SQL,
    NotADatabase,
    Rollup,
    SchemaTooNew,
    SessionSummary,
    StoreError,
    accumulate,
    apply_rollups,
    check_header,
    prepare,
    rollback,
    summary_from_row,
)
from tokenmaxx.sessions.sqlite_writer import FLUSH_EVENTS, EventRow, WriterThread
from tokenmaxx.sessions.session_lock import LockUnavailable, SessionBusy, SessionLocks
from tokenmaxx.sessions.store_api import Origin, Row, StatsRows
from tokenmaxx.sessions.store_life import StoreLife

__all__ = [
    "AmbiguousSession",
    "CopyRefused",
    "ImportRejected",
    "LockUnavailable",
    "NotADatabase",
    "SchemaTooNew",
    "SessionBusy",
    "SessionExists",
    "SessionNotFound",
    "SessionSummary",
    "StorageFault",
    "Store",
    "StoreError",
    "default_db_path",
    "new_session_id",
]

ROOM_EVENTS = 4 * FLUSH_EVENTS
READ_PAGE = 2000
IMPORT_CHUNK = 5000
_MAX_SEQ = 2**62


class SessionNotFound(StoreError):
    """No session has the given id or id prefix."""

    def __init__(self, path: Path, wanted: str) -> None:
        self.path, self.wanted = path, wanted
        super().__init__(f"no session {wanted!r} in {path}")


class AmbiguousSession(StoreError):
    """An id prefix matches more than one session."""

    def __init__(self, path: Path, prefix: str, candidates: Sequence[str]) -> None:
        self.path, self.prefix, self.candidates = path, prefix, list(candidates)
        super().__init__(f"{prefix!r} matches several sessions in {path}: {', '.join(candidates)}")


class ImportRejected(StoreError):
    """The events cannot be imported as one session."""


class SessionExists(ImportRejected):
    """The store already holds a session with that id."""


class SessionRunning(StoreError):
    """A session still being written, which cannot be deleted."""


_SESSION_TABLES = ("events", "snapshots", "agents", "reviews", "sessions")
"""Every table that holds rows of a session, the `sessions` row itself last."""


_IMPORT_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS import_rows "
    "(session_id TEXT, seq INTEGER PRIMARY KEY, ts REAL, kind TEXT, agent TEXT, payload TEXT)"
)
_STAGE_IMPORT = "INSERT INTO temp.import_rows (session_id, seq, ts, kind, agent, payload) VALUES (?, ?, ?, ?, ?, ?)"
_MOVE_IMPORT = (
    "INSERT INTO events (session_id, seq, ts, kind, agent, payload) "
    "SELECT session_id, seq, ts, kind, agent, payload FROM temp.import_rows ORDER BY seq"
)


def default_db_path() -> Path:
    """Where sessions live: $TOKENMAXX_DB, else the user data dir's sessions.db."""
    override = os.environ.get("TOKENMAXX_DB")
    if override:
        return Path(override).expanduser()
    return platformdirs.user_data_path("tokenmaxx") / "sessions.db"


def new_session_id() -> str:
    """A fresh session id: 12 lowercase hex characters."""
    return secrets.token_hex(6)


class Store(StoreLife):
    """The session database: batched appends through one writer thread, reads at any time."""

    def __init__(self, path: Path, db: aiosqlite.Connection, last_seqs: dict[str, int]) -> None:
        self.path = path
        self._db = db
        self._lock = asyncio.Lock()
        self._next_seq = last_seqs
        self._appended = 0
        self._committed = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._closing = False
        self._closed = False
        self._failure: tuple[StorageFault, BaseException] | None = None
        self._failed = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._pid = os.getpid()
        self.locks = SessionLocks(path)
        self._writer = WriterThread(path, pid=self._pid, committed=self._committed_from_thread, failed=self._failed_in_thread)
        self._writer.start()

    @classmethod
    async def open(cls, path: Path | str) -> Self:
        """Open (creating or migrating) the database at `path`."""
        path = Path(path).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        check_header(path)
        try:
            db = await aiosqlite.connect(path, isolation_level=None)
        except sqlite3.Error as error:
            raise storage_fault(path, error) from error
        try:
            await prepare(db, path)
            last_seqs = await _last_seqs(db)
        except sqlite3.Error as error:
            await db.close()
            raise storage_fault(path, error) from error
        except BaseException:
            await db.close()
            raise
        return cls(path, db, last_seqs)

    async def check_writable(self) -> None:
        """Take the write lock and let it go, so that a fleet that could not record learns it before it starts."""
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
                await self._db.execute("ROLLBACK")
            except sqlite3.Error as error:
                await rollback(self._db)
                raise storage_fault(self.path, error) from error

    # -- writing ---------------------------------------------------------------------------

    def append(self, session_id: str, event: Event) -> Event:
        """Stamp the event with the session's next seq, queue it, and return the stamped event."""
        self._check_writable()
        if not session_id:
            raise ValueError("append needs a session id")
        self.locks.hold(session_id)
        seq = self._next_seq.get(session_id, 0) + 1
        stamped = event.model_copy(update={"session_id": session_id, "seq": seq})
        self._next_seq[session_id] = seq
        self._appended += 1
        self._writer.queue_row(_row(stamped), stamped)
        return stamped

    def append_snapshot(self, session_id: str, seq: int, state_json: str) -> None:
        """Queue a snapshot of the reduced state after event `seq`, written in order with events."""
        self._check_writable()
        if not 1 <= seq <= self._next_seq.get(session_id, 0):
            raise ValueError(f"snapshot at seq {seq} is beyond session {session_id}'s last event")
        self._appended += 1
        self._writer.queue_snapshot((session_id, seq, state_json))

    async def flush(self) -> None:
        """Write the queue now and wait until everything appended so far is committed."""
        if self._committed < self._appended:
            self._writer.hurry()
        await self.wait_committed()

    async def room(self) -> None:
        """Wait, when the writer is more than ROOM_EVENTS behind, until it has caught up: the fleet's backpressure."""
        if self._appended - self._committed > ROOM_EVENTS:
            await self.wait_committed()

    @property
    def commit_lags(self) -> Sequence[float]:
        """The append-to-commit latency of the latest batches, in seconds, newest last (the writer thread's clock)."""
        return tuple(self._writer.commit_lags)

    def _committed_from_thread(self, count: int) -> None:
        self._call_on_loop(self._batch_committed, count)

    def _failed_in_thread(self, error: BaseException) -> None:
        self._call_on_loop(self._fail, storage_fault(self.path, error), error)

    def _call_on_loop(self, callback: Callable[..., None], *args: object) -> None:
        """Run `callback(*args)` on the store's event loop, from the writer thread; a closed loop hears nothing."""
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            pass

    def _batch_committed(self, count: int) -> None:
        self._committed += count
        self._release_waiters()

    async def _shutdown(self, *, raise_failure: bool) -> None:
        if self._closed:
            if raise_failure:
                self._raise_failure()
            return
        self._closing = True
        self._writer.stop()
        try:
            await asyncio.to_thread(self._writer.join)
        finally:
            self._closed = True
            self.locks.close()
            await self._db.close()
        if raise_failure:
            self._raise_failure()

    # -- reading ---------------------------------------------------------------------------

    async def copy_to(self, target: Path, max_bytes: int = MAX_COPY_BYTES) -> Path:
        """Commit what is queued, then copy the database to `target` in a thread; CopyRefused when it cannot."""
        await self.flush()
        return await asyncio.to_thread(copy_database, self.path, target, max_bytes)

    async def sessions(self) -> list[SessionSummary]:
        """Every session, newest first."""
        rows = await self._fetchall(f"{SUMMARY_SQL} ORDER BY started_at DESC, id")
        return [summary_from_row(row, self.locks.is_running) for row in rows]

    async def session(self, session_id: str) -> SessionSummary:
        """One session by its full id."""
        rows = await self._fetchall(f"{SUMMARY_SQL} WHERE id = ?", (session_id,))
        if not rows:
            raise SessionNotFound(self.path, session_id)
        return summary_from_row(rows[0], self.locks.is_running)

    async def resolve(self, prefix: str) -> str:
        """The one session id that starts with `prefix` (like git's short hashes)."""
        if not prefix:
            raise SessionNotFound(self.path, prefix)
        rows = await self._fetchall(
            "SELECT id FROM sessions WHERE id >= ? AND substr(id, 1, ?) = ? ORDER BY id LIMIT 11",
            (prefix, len(prefix), prefix),
        )
        ids = [row[0] for row in rows]
        if prefix in ids:
            return prefix
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise SessionNotFound(self.path, prefix)
        raise AmbiguousSession(self.path, prefix, ids)

    async def last_seq(self, session_id: str) -> int:
        """The highest committed seq of a session."""
        return (await self.session(session_id)).last_seq

    async def events(
        self, session_id: str, *, from_seq: int = 1, to_seq: int | None = None, agent: str | None = None
    ) -> list[Event]:
        """A session's events in seq order, optionally a seq range and one agent's only."""
        return [e async for e in self.iter_events(session_id, from_seq=from_seq, to_seq=to_seq, agent=agent)]

    async def iter_events(
        self,
        session_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        agent: str | None = None,
        page_size: int = READ_PAGE,
    ) -> AsyncIterator[Event]:
        """Like `events`, read a page at a time so that huge sessions stay cheap."""
        await self.session(session_id)
        sql, tail = _events_query(agent)
        last = _MAX_SEQ if to_seq is None else to_seq
        start = from_seq
        while start <= last:
            rows = await self._fetchall(sql, (session_id, *tail, start, last, page_size))
            for seq, ts, kind, payload in rows:
                yield from_row(session_id, seq, ts, kind, payload)
            if len(rows) < page_size:
                return
            start = rows[-1][0] + 1

    async def snapshot_before(self, session_id: str, seq: int) -> tuple[int, str] | None:
        """The latest snapshot taken at or before `seq`, as (seq, state JSON), if any."""
        rows = await self._fetchall(
            "SELECT seq, state FROM snapshots WHERE session_id = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
            (session_id, seq),
        )
        return (rows[0][0], rows[0][1]) if rows else None

    async def fetch_rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run one read-only query for the history readers (replay markers, stats) and return its rows."""
        return [tuple(row) for row in await self._fetchall(sql, params)]

    async def markers_after(self, session_id: str, after: int, kinds: tuple[str, ...]) -> list[Row]:
        """The events of the given kinds after seq `after`, in order: (seq, ts, kind, agent, payload JSON)."""
        return await self.fetch_rows(history_sql.markers_sql(kinds), (session_id, after))

    async def events_before(self, session_id: str, seq: int, limit: int, agent: str | None = None) -> list[Event]:
        """The last `limit` events at or before `seq`, oldest first, optionally one agent's only."""
        params = (session_id, *(() if agent is None else (agent,)), seq, limit)
        rows = await self._fetchall(history_sql.events_before_sql(agent), params)
        return [from_row(session_id, *row) for row in reversed(rows)]

    async def timestamps(self, session_id: str, lo: int, hi: int) -> list[float]:
        """The `ts` of the events lo..hi, in seq order."""
        return [float(row[0]) for row in await self._fetchall(history_sql.TIMESTAMPS_SQL, (session_id, lo, hi))]

    async def snapshot_seqs(self, session_id: str, after: int) -> list[int]:
        """The seqs of the session's snapshots after `after`, in order."""
        return [int(row[0]) for row in await self._fetchall(history_sql.SNAPSHOT_SEQS_SQL, (session_id, after))]

    async def stats_rows(self, since: float) -> StatsRows:
        """The grouped rows `sessions.stats` tallies, for what happened at or after `since`."""
        found = {name: await self.fetch_rows(sql, (since,)) for name, sql in history_sql.STATS_QUERIES.items()}
        return StatsRows(**found)

    async def import_events(self, events: Iterable[Event], *, origin: Origin | None = None) -> str:
        """Write a whole session from its events, keeping its id and seqs; returns the id.

        The events are read and checked IMPORT_CHUNK at a time into a temporary table of this
        connection, so a large export never sits in memory whole and other writers of the
        database (a running fleet) are not held up while it is read; then one short transaction
        moves them in. Anything wrong (a gap in the seqs, a second session, a bad line of the file
        being read) leaves the database as it was. Reading the file runs on the event loop: this
        is for the `import` command, not for a store a fleet writes through. `origin` keeps who
        ran the session and where (a `sync` from another store).
        """
        self._check_writable()
        async with self._lock:
            await self._db.execute(_IMPORT_TABLE)
            try:
                session_id, count, rollups = await self._stage_import(iter(events))
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    await self._new_import_id(session_id)
                    await self._db.execute(_MOVE_IMPORT)
                    who = origin or Origin(None, None)
                    await apply_rollups(self._db, rollups.values(), pid=None, host=who.host, user=who.user)
                    await self._db.execute("COMMIT")
                except BaseException:
                    await rollback(self._db)
                    raise
            finally:
                await self._db.execute("DROP TABLE IF EXISTS temp.import_rows")
        self._next_seq[session_id] = count
        return session_id

    async def delete_session(self, session_id: str) -> None:
        """Remove a session (its full id) and everything recorded of it, in one transaction; a running one is refused."""
        self._check_writable()
        summary = await self.session(session_id)
        if summary.status == "running":
            raise SessionRunning(f"session {session_id} is still running: stop it before deleting it")
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in _SESSION_TABLES:
                    await self._db.execute(f"DELETE FROM {table} WHERE {'id' if table == 'sessions' else 'session_id'} = ?", (session_id,))
                await self._db.execute("COMMIT")
            except BaseException:
                await rollback(self._db)
                raise
        self._next_seq.pop(session_id, None)

    async def _stage_import(self, events: Iterator[Event]) -> tuple[str, int, dict[str, Rollup]]:
        rollups: dict[str, Rollup] = {}
        session_id, count = "", 0
        while chunk := list(itertools.islice(events, IMPORT_CHUNK)):
            if not session_id:
                session_id = await self._new_import_id(chunk[0].session_id)
            _check_importable(self.path, session_id, count, chunk)
            count += len(chunk)
            await self._db.executemany(_STAGE_IMPORT, [_row(event) for event in chunk])
            accumulate(rollups, chunk)
        if not session_id:
            raise ImportRejected(f"nothing to import into {self.path}: no events")
        return session_id, count, rollups

    async def _new_import_id(self, session_id: str) -> str:
        if not session_id:
            raise ImportRejected(f"nothing to import into {self.path}: events without a session id")
        taken = session_id in self._next_seq
        if not taken:
            async with self._db.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)) as cursor:
                taken = await cursor.fetchone() is not None
        if taken:
            raise SessionExists(f"{self.path} already holds session {session_id}")
        return session_id

    async def _fetchall(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        async with self._lock:
            try:
                return list(await self._db.execute_fetchall(sql, params))
            except sqlite3.DatabaseError as error:
                raise StoreError(f"{self.path}: {error}") from error


def _row(event: Event) -> EventRow:
    return (event.session_id, event.seq, event.ts, event.kind, getattr(event, "agent", None), payload_json(event))


async def _last_seqs(db: aiosqlite.Connection) -> dict[str, int]:
    rows = await db.execute_fetchall("SELECT id, last_seq FROM sessions")
    return {session_id: last_seq for session_id, last_seq in rows}


def _events_query(agent: str | None) -> tuple[str, tuple[str, ...]]:
    agent_filter, tail = ("AND agent = ? ", (agent,)) if agent is not None else ("", ())
    sql = (
        "SELECT seq, ts, kind, payload FROM events WHERE session_id = ? "
        f"{agent_filter}AND seq >= ? AND seq <= ? ORDER BY seq LIMIT ?"
    )
    return sql, tail


def _check_importable(path: Path, session_id: str, before: int, events: list[Event]) -> None:
    """Events `before + 1`... of one session must carry its id and run on without gaps."""
    for expected, event in enumerate(events, start=before + 1):
        if event.session_id != session_id or event.seq != expected:
            raise ImportRejected(
                f"cannot import into {path}: event {expected} is {event.session_id}#{event.seq}, "
                f"expected {session_id}#{expected} (one session, seqs 1, 2, 3...)"
            )


