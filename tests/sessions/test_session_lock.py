"""Session locks: held while a store writes a session, probed without blocking, named safely."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.schema import HOST
from tokenmaxx.sessions.session_lock import Probe, SessionBusy, SessionLocks, lock_dir, lock_path
from tokenmaxx.sessions.store import Store


async def test_a_store_holds_the_lock_of_a_session_it_writes_until_it_closes(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    readers = SessionLocks(db)
    async with await Store.open(db) as store:
        assert readers.probe("s1") is Probe.MISSING
        store.append("s1", ev.SessionStarted(name="n", cwd="/", version="0"))
        assert readers.probe("s1") is Probe.HELD
        assert readers.holder("s1") == f"pid {os.getpid()} on host {HOST}"
        with pytest.raises(SessionBusy, match=f"session s1 is still running in tokenmaxx pid {os.getpid()}"):
            readers.claim("s1")
        await store.flush()
        assert (await store.session("s1")).status == "running"
    assert readers.probe("s1") is Probe.FREE
    async with await Store.open(db) as store:
        assert (await store.session("s1")).status == "interrupted"


def test_locks_are_private_and_a_hostile_session_id_stays_in_the_lock_folder(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    locks = SessionLocks(db)
    hostile = "../../escaped"
    locks.claim(hostile)
    try:
        assert lock_path(db, hostile).parent == lock_dir(db)
        assert not (tmp_path.parent / "escaped.lock").exists()
        assert stat.S_IMODE(lock_dir(db).stat().st_mode) == 0o700
        assert stat.S_IMODE(lock_path(db, hostile).stat().st_mode) == 0o600
        assert locks.probe(hostile) is Probe.HELD
    finally:
        locks.close()
    assert locks.probe(hostile) is Probe.FREE


def test_without_a_lock_file_the_recorded_pid_and_host_decide(tmp_path: Path) -> None:
    locks = SessionLocks(tmp_path / "s.db")
    assert locks.is_running("old", os.getpid(), HOST)
    assert not locks.is_running("old", None, None)
    assert not locks.is_running("old", 2**22 + 1, HOST)  # above any pid_max
    assert locks.is_running("old", 2**22 + 1, "another-host")
    locks.claim("new")
    locks.release("new")
    assert not locks.is_running("new", os.getpid(), HOST)
