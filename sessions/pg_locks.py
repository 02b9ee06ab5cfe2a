"""One writer per session on a shared PostgreSQL server: a session-level advisory lock per session.

The key is the first eight bytes of the SHA-256 of the session id. A store takes a session's
lock with `pg_try_advisory_lock` on its first write (or before a resume) on a connection of its
own, which it keeps for as long as it writes, so the server drops the lock when the writer dies,
on any host, however it dies. Whether a session runs is read from `pg_locks` (a probe that takes
nothing), so every host sees every writer. The same interface as `sessions.session_lock.SessionLocks`.

The lock connection is synchronous: the calls are a few round trips, made once per session, and
`SessionLocks` is synchronous too. After the server comes back from an outage, `retake` takes
every held lock again (in a thread), and fails if another writer took a session meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterable

import psycopg

from tokenmaxx.sessions.schema import HOST, USER
from tokenmaxx.sessions.session_lock import LockUnavailable, Probe, SessionBusy
from tokenmaxx.sessions.store_api import redact

CONNECT_TIMEOUT_S = 5
_HELD_KEYS = (
    "SELECT classid::bigint, objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 "
    "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
_HOLDER = (
    "SELECT a.usename, host(a.client_addr), a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted AND l.classid = %s AND l.objid = %s LIMIT 1"
)


def lock_key(session_id: str) -> int:
    """The advisory lock key of a session: a signed 64-bit integer."""
    return int.from_bytes(hashlib.sha256(session_id.encode()).digest()[:8], "big", signed=True)


def _unsigned(key: int) -> int:
    return key & 0xFFFFFFFFFFFFFFFF


class PgLocks:
    """The session locks one store holds on its database, and probes of everyone else's."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection | None = None
        self._guard = threading.Lock()
        self._held: set[str] = set()
        self.stale = False
        self.claimed_seqs: dict[str, int] = {}

    def holds(self, session_id: str) -> bool:
        """Whether this store holds the session's lock."""
        return session_id in self._held

    def claim(self, session_id: str) -> None:
        """Take the session's lock; SessionBusy if anyone holds it, this store included."""
        if session_id in self._held:
            raise SessionBusy(session_id, f"pid {os.getpid()} on host {HOST} (this process)")
        if not self._try(session_id):
            raise SessionBusy(session_id, self.holder(session_id))
        self._held.add(session_id)

    def hold(self, session_id: str) -> None:
        """Hold the lock of a session this store writes, taking it on the first write.

        With the server away, the session is counted as held and the writer takes its lock once
        the server is back (`retake`), before it writes anything of it.
        """
        if session_id in self._held:
            return
        try:
            self.claim(session_id)
        except LockUnavailable:
            self._held.add(session_id)
            self.stale = True

    def release(self, session_id: str) -> None:
        """Let go of a session's lock, if this store holds it."""
        if session_id in self._held:
            self._held.discard(session_id)
            self._query("SELECT pg_advisory_unlock(%s)", (lock_key(session_id),))

    def probe(self, session_id: str) -> Probe:
        """Whether anyone (this store included) holds the session's lock."""
        return Probe.HELD if _unsigned(lock_key(session_id)) in self.held_keys() else Probe.FREE

    def held_keys(self) -> set[int]:
        """Every advisory key held in this database, as unsigned integers."""
        return {(int(high) << 32) | int(low) for high, low in self._query(_HELD_KEYS, ())}  # type: ignore[call-overload]

    def liveness(self) -> Callable[[str, int | None, str | None], bool]:
        """A liveness check for many sessions at once, from one look at the held locks."""
        held = self.held_keys()
        return lambda session_id, _pid, _host: _unsigned(lock_key(session_id)) in held

    def holder(self, session_id: str) -> str:
        """Who holds the session's lock, as the server knows them."""
        key = _unsigned(lock_key(session_id))
        rows = self._query(_HOLDER, (key >> 32, key & 0xFFFFFFFF))
        if not rows:
            return "another process"
        user, address, pid = rows[0]
        return f"server pid {pid} ({user} from {address or 'a local socket'})"

    def retake(self) -> None:
        """After a lost connection: take every lock this store held again, or SessionBusy."""
        self._drop()
        for session_id in sorted(self._held):
            if not self._try(session_id):
                self._held.discard(session_id)
                raise SessionBusy(session_id, self.holder(session_id))
        self.stale = False

    def close(self) -> None:
        """Release every lock this store holds (closing the connection releases them)."""
        self._held.clear()
        self._drop()

    def _try(self, session_id: str) -> bool:
        """Try to take the lock; once taken, note the session's last committed seq, which no one else may now move."""
        if not self._query("SELECT pg_try_advisory_lock(%s)", (lock_key(session_id),))[0][0]:
            return False
        found = self._query("SELECT last_seq FROM sessions WHERE id = %s", (session_id,))
        self.claimed_seqs[session_id] = int(found[0][0]) if found else 0  # type: ignore[call-overload]
        return True

    def _query(self, sql: str, params: Iterable[object]) -> list[tuple[object, ...]]:
        with self._guard:
            try:
                return self._connection().execute(sql, tuple(params)).fetchall()  # type: ignore[arg-type]
            except psycopg.Error as error:
                self._drop_locked()
                raise LockUnavailable(f"{redact(self.url)}: session locks unavailable: {redact(str(error).strip())}") from None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name=f"tokenmaxx-locks {USER}@{HOST}"
            )
        return self._conn

    def _drop(self) -> None:
        with self._guard:
            self._drop_locked()

    def _drop_locked(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
