"""The session store on a PostgreSQL server, shared by every developer's fleets (psycopg 3, async).

The same contract as the SQLite `Store`: `append` stamps the session's next gap-free seq and
queues the event; one writer task commits the queue in batched transactions (`COPY` for the
events, the roll-ups folded by `sessions.schema.fold` in the same transaction). Each session's
writer holds its advisory lock (`sessions.pg_locks`), so seqs never collide across hosts.

When the server goes away mid-run, the writer keeps the batch and everything appended after it
in memory and retries until the server is back (then it takes its locks again and writes them,
in order, once: a batch whose commit got through before the connection died is not written
twice). If more than `buffer_events` wait, or the store is closing and the server stays away for
`close_grace_s`, the store fails with a `StorageFault` saying why, as a full disk does for SQLite.
The URL's password never appears in a message: every error is redacted (`store_api.redact`).
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from pathlib import Path
from typing import Any, Self

import psycopg

from tokenmaxx.sessions import pg_sql
from tokenmaxx.sessions.backup import MAX_COPY_BYTES
from tokenmaxx.sessions.events import Event
from tokenmaxx.sessions.faults import StorageFault
from tokenmaxx.sessions.pg_copy import export_history
from tokenmaxx.sessions.pg_locks import PgLocks
from tokenmaxx.sessions.pg_reads import PgReads
from tokenmaxx.sessions.pg_schema import connect, migrate, write_rollups
from tokenmaxx.sessions.schema import HOST, USER, StoreError, fold
from tokenmaxx.sessions.sqlite_writer import FLUSH_EVENTS, FLUSH_INTERVAL_S
from tokenmaxx.sessions.sqlite_writer import Batch as _Batch
from tokenmaxx.sessions.store import _row
from tokenmaxx.sessions.store_api import redact
from tokenmaxx.sessions.store_life import StoreLife

BUFFER_EVENTS = 200_000
CLOSE_GRACE_S = 30.0
_RETRY_FIRST_S, _RETRY_MAX_S = 0.05, 1.0


class ServerUnavailable(StoreError):
    """The server cannot be reached, refused the login, or has no such database; the message says which."""


def _reason(error: BaseException) -> str:
    return redact(" ".join(str(error).split())) or type(error).__name__


class PgStore(StoreLife, PgReads):
    """The session database on a PostgreSQL server: batched appends through one writer task, reads at any time."""

    buffer_events = BUFFER_EVENTS
    close_grace_s = CLOSE_GRACE_S

    def __init__(self, url: str, writer: psycopg.AsyncConnection[Any], reader: psycopg.AsyncConnection[Any], last_seqs: dict[str, int]) -> None:
        self._url = url
        self.path = redact(url)
        self._conn, self._reader = writer, reader
        self._lock, self._read_lock = asyncio.Lock(), asyncio.Lock()
        self._next_seq = last_seqs
        self._pending, self._pending_count = _Batch(), 0
        self._first_pending_at = 0.0
        self._appended = self._committed = 0
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._has_work, self._urgent, self._failed = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self._closing = self._closed = False
        self._failure: tuple[StorageFault, BaseException] | None = None
        self._loop = asyncio.get_running_loop()
        self._pid = os.getpid()
        self.locks = PgLocks(url)
        self._writer = asyncio.create_task(self._run_writer(), name="store-writer:postgresql")

    @classmethod
    async def open(cls, url: str) -> Self:
        """Connect to the database at `url`, creating or migrating its tables."""
        try:
            writer = await connect(url, autocommit=False)
        except psycopg.Error as error:
            raise ServerUnavailable(f"cannot open the PostgreSQL database {redact(url)}: {_reason(error)}") from None
        try:
            await migrate(writer, redact(url))
            reader = await connect(url, autocommit=True)
            rows = await (await reader.execute(pg_sql.LAST_SEQS)).fetchall()
        except psycopg.Error as error:
            await writer.close()
            raise ServerUnavailable(f"cannot use the PostgreSQL database {redact(url)}: {_reason(error)}") from None
        except BaseException:
            await writer.close()
            raise
        return cls(url, writer, reader, {session_id: int(seq) for session_id, seq in rows})

    async def copy_to(self, target: Path, max_bytes: int = MAX_COPY_BYTES) -> Path:
        """Commit what is queued, then export every session into a fresh SQLite file at `target`; CopyRefused when it cannot."""
        await self.flush()
        size = int((await self._fetch(pg_sql.EVENTS_BYTES))[0][0])
        return await export_history(self, size, target, max_bytes)

    async def check_writable(self) -> None:
        """Fail now, before a fleet starts, when this login may not write the events."""
        rows = await self._fetch("SELECT has_table_privilege('events', 'INSERT'), current_setting('transaction_read_only')")
        if not rows[0][0] or rows[0][1] == "on":
            raise StorageFault(self.path, "the database refuses writes (read-only, or no INSERT on its tables)")  # type: ignore[arg-type]

    # -- writing ---------------------------------------------------------------------------

    def append(self, session_id: str, event: Event) -> Event:
        """Stamp the event with the session's next seq, queue it, and return the stamped event."""
        self._check_writable()
        if not session_id:
            raise ValueError("append needs a session id")
        self.locks.hold(session_id)
        claimed = self.locks.claimed_seqs.pop(session_id, None)
        seq = max(self._next_seq.get(session_id, 0), claimed or 0) + 1
        stamped = event.model_copy(update={"session_id": session_id, "seq": seq})
        self._next_seq[session_id] = seq
        self._pending.rows.append(_row(stamped))
        fold(self._pending.rollups, stamped)
        self._queued()
        return stamped

    def append_snapshot(self, session_id: str, seq: int, state_json: str) -> None:
        """Queue a snapshot of the reduced state after event `seq`, written in order with events."""
        self._check_writable()
        if not 1 <= seq <= self._next_seq.get(session_id, 0):
            raise ValueError(f"snapshot at seq {seq} is beyond session {session_id}'s last event")
        self._pending.snapshots.append((session_id, seq, state_json))
        self._queued()

    async def flush(self) -> None:
        """Write the queue now and wait until everything appended so far is committed."""
        if self._committed < self._appended:
            self._urgent.set()
        await self.wait_committed()

    def _queued(self) -> None:
        self._appended += 1
        self._pending_count += 1
        if self._pending_count == 1:
            self._first_pending_at = self._loop.time()
            self._has_work.set()
        elif self._pending_count >= FLUSH_EVENTS:
            self._urgent.set()

    async def _run_writer(self) -> None:
        while not (self._closing and not self._pending_count):
            await self._has_work.wait()
            await self._wait_for_batch()
            batch, size = self._pending, self._pending_count
            self._pending, self._pending_count = _Batch(), 0
            self._has_work.clear()
            self._urgent.clear()
            if not size:
                continue
            try:
                await self._write_surviving(batch)
            except StorageFault as fault:
                self._fail(fault, fault)
                return
            except Exception as error:  # noqa: BLE001 - every write failure must reach the caller
                self._fail(StorageFault(self.path, _reason(error)), error)  # type: ignore[arg-type]
                return
            self._committed += size
            self._release_waiters()

    async def _wait_for_batch(self) -> None:
        delay = self._first_pending_at + FLUSH_INTERVAL_S - self._loop.time()
        if self._urgent.is_set() or delay <= 0:
            return
        try:
            async with asyncio.timeout(delay):
                await self._urgent.wait()
        except TimeoutError:
            pass

    async def _write_surviving(self, batch: _Batch) -> None:
        """Write the batch, waiting out a server that went away (see the module's docstring)."""
        while True:
            try:
                if self.locks.stale:
                    await asyncio.to_thread(self.locks.retake)
                await self._write(batch)
                return
            except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                if self._conn.closed or self._conn.broken or "lost" in str(error):
                    await self._reconnect(error)
                    if await self._landed(batch):
                        return
                else:
                    raise

    async def _write(self, batch: _Batch) -> None:
        async with self._lock, self._conn.transaction(), self._conn.cursor() as cursor:
            if batch.rows:
                async with cursor.copy(pg_sql.COPY_EVENTS) as copy:
                    for row in batch.rows:
                        await copy.write_row(row)
            if batch.snapshots:
                await cursor.executemany(pg_sql.UPSERT_SNAPSHOT, batch.snapshots)
            await write_rollups(cursor, batch.rollups.values(), pid=self._pid, host=HOST, user=USER, heartbeat=time.time())

    async def _landed(self, batch: _Batch) -> bool:
        """Whether a batch whose commit was cut off reached the server after all."""
        if not batch.rows:
            return False
        session_id, seq = batch.rows[0][0], batch.rows[0][1]
        async with self._lock:
            rows = await (await self._conn.execute(pg_sql.EVENT_EXISTS, (session_id, seq))).fetchall()
            await self._conn.rollback()
        return bool(rows)

    async def _reconnect(self, error: BaseException) -> None:
        """Connect again, retrying with backoff, unless too much waits or the store closes with the server away."""
        self.locks.stale = True
        away_since, pause = self._loop.time(), _RETRY_FIRST_S
        while True:
            waiting = self._appended - self._committed
            if waiting > self.buffer_events:
                raise StorageFault(self.path, f"the PostgreSQL server went away ({_reason(error)}) and {waiting:,} events wait, more than the {self.buffer_events:,} kept in memory; the fleet stops")  # type: ignore[arg-type]
            if self._closing and self._loop.time() - away_since > self.close_grace_s:
                raise StorageFault(self.path, f"the PostgreSQL server went away ({_reason(error)}) and did not come back within {self.close_grace_s:.0f} s of closing; {waiting:,} events were not written")  # type: ignore[arg-type]
            await asyncio.sleep(pause)
            pause = min(pause * 2, _RETRY_MAX_S)
            try:
                fresh = await connect(self._url, autocommit=False)
            except psycopg.Error as failure:
                error = failure
                continue
            old, self._conn = self._conn, fresh
            await old.close()
            return

    async def _shutdown(self, *, raise_failure: bool) -> None:
        if self._closed:
            if raise_failure:
                self._raise_failure()
            return
        self._closing = True
        self._has_work.set()
        self._urgent.set()
        try:
            await self._writer
        finally:
            self._closed = True
            self.locks.close()
            await self._conn.close()
            await self._reader.close()
        if raise_failure:
            self._raise_failure()
