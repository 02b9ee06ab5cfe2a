"""The SQLite store's writer: a thread with its own connection that commits queued events in batches.

The event loop only queues: `queue_row` and `queue_snapshot` add to the pending batch under a
lock and never wait. The thread takes the whole batch every `FLUSH_INTERVAL_S` (sooner when
`FLUSH_EVENTS` are queued or a flush is asked for) and writes it in one transaction, so a
saturated event loop cannot hold durability back: the loop hears of each commit (and of a
failure) by a callback, which only wakes those waiting on it. Rows go in as multi-row INSERTs
of up to `ROWS_PER_INSERT` rows: SQLite's Python module lets go of the GIL at every statement
step, and a thread that lets go of it while the event loop is busy waits up to the switch
interval (5 ms) to have it back, so a row per step would stretch a 500-row batch to seconds. Each batch's append-to-commit
latency (from its oldest event's queueing to its commit, on the monotonic clock) is kept in
`commit_lags`, newest last.
"""

from __future__ import annotations

import collections
import functools
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

from tokenmaxx.sessions.events import Event
from tokenmaxx.sessions.schema import BUSY_TIMEOUT_MS, HOST, Rollup, fold, rollup_statements

FLUSH_INTERVAL_S = 0.05
FLUSH_EVENTS = 500
ROWS_PER_INSERT = 256
COMMIT_LAGS_KEPT = 4096

EventRow: TypeAlias = tuple[str, int, float, str, "str | None", str]
_INSERT_EVENTS = "INSERT INTO events (session_id, seq, ts, kind, agent, payload) VALUES "
_INSERT_SNAPSHOT = "INSERT OR REPLACE INTO snapshots (session_id, seq, state) VALUES (?, ?, ?)"


@dataclass
class Batch:
    """What the writer commits in one transaction: event rows, snapshots and their roll-ups.

    Rows hold only strings and numbers, so queued events never reach the older GC generations.
    """

    rows: list[EventRow] = field(default_factory=list)
    snapshots: list[tuple[str, int, str]] = field(default_factory=list)
    rollups: dict[str, Rollup] = field(default_factory=dict)
    size: int = 0
    first_at: float = 0.0


Committed = Callable[[int], None]
"""Told, from the writer thread, how many queued items one transaction committed."""
Failed = Callable[[BaseException], None]
"""Told, from the writer thread, the error that ended writing; nothing is written after it."""


class WriterThread:
    """Commits what the event loop queues, in batched transactions, on a thread of its own."""

    def __init__(self, path: Path, *, pid: int, committed: Committed, failed: Failed) -> None:
        self.path = path
        self.commit_lags: collections.deque[float] = collections.deque(maxlen=COMMIT_LAGS_KEPT)
        self._pid = pid
        self._committed = committed
        self._failed = failed
        self._mutex = threading.Lock()
        self._pending = Batch()
        self._has_work = threading.Event()
        self._urgent = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=f"store-writer:{path.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def queue_row(self, row: EventRow, event: Event) -> None:
        """Queue one event's row and fold it into its session's roll-up."""
        with self._mutex:
            pending = self._pending
            pending.rows.append(row)
            fold(pending.rollups, event)
            self._queued(pending)

    def queue_snapshot(self, snapshot: tuple[str, int, str]) -> None:
        """Queue one state snapshot, written in order with the events."""
        with self._mutex:
            self._pending.snapshots.append(snapshot)
            self._queued(self._pending)

    def hurry(self) -> None:
        """Write what is queued now rather than at the end of the batch interval."""
        self._urgent.set()
        self._has_work.set()

    def stop(self) -> None:
        """Write what is queued, then end the thread (join it with `join`)."""
        self._closing = True
        self.hurry()

    def join(self) -> None:
        self._thread.join()

    def _queued(self, pending: Batch) -> None:
        pending.size += 1
        if pending.size == 1:
            pending.first_at = time.monotonic()
            self._has_work.set()
        elif pending.size == FLUSH_EVENTS:
            self._urgent.set()

    def _run(self) -> None:
        try:
            db = self._connect()
        except sqlite3.Error as error:
            self._failed(error)
            return
        try:
            self._write_until_closed(db)
        except Exception as error:  # noqa: BLE001 - every write failure must reach the store
            self._failed(error)
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    def _write_until_closed(self, db: sqlite3.Connection) -> None:
        while True:
            self._has_work.wait()
            self._wait_for_batch()
            with self._mutex:
                batch, self._pending = self._pending, Batch()
                self._has_work.clear()
                self._urgent.clear()
                closing = self._closing
            if batch.size:
                self._write(db, batch)
                self.commit_lags.append(time.monotonic() - batch.first_at)
                self._committed(batch.size)
            if closing:
                return

    def _wait_for_batch(self) -> None:
        delay = self._pending.first_at + FLUSH_INTERVAL_S - time.monotonic()
        if delay > 0 and not self._urgent.is_set():
            self._urgent.wait(delay)

    def _write(self, db: sqlite3.Connection, batch: Batch) -> None:
        db.execute("BEGIN")
        try:
            for start in range(0, len(batch.rows), ROWS_PER_INSERT):
                rows = batch.rows[start : start + ROWS_PER_INSERT]
                db.execute(_insert_events(len(rows)), list(itertools.chain.from_iterable(rows)))
            if batch.snapshots:
                db.executemany(_INSERT_SNAPSHOT, batch.snapshots)
            for sql, params in rollup_statements(batch.rollups.values(), pid=self._pid, host=HOST):
                db.executemany(sql, params)
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


@functools.lru_cache(maxsize=64)
def _insert_events(rows: int) -> str:
    """One INSERT of `rows` event rows."""
    return _INSERT_EVENTS + ", ".join(["(?, ?, ?, ?, ?, ?)"] * rows)
