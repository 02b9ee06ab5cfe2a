"""Storage faults end a fleet loudly and at once: exit 2 with one clear message, and what was committed resumes."""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

EXIT_WITHIN_S = 10
FLEET_PLAN = """
name = "faulty"
workdir = "project"
out = "out"
stall_after = 60

[providers.sim]
kind = "sim"
speed = 0.5

[roles.notetaker]
prompt = "You read files and take notes."
tools = ["read_file", "list_files", "write_file"]

[[agents]]
name = "a"
role = "notetaker"
task = "Read the project's files and write notes.md about them."

[[agents]]
name = "b"
role = "notetaker"
task = "Read the project's files and write notes.md about them."
"""


def write_plan(folder: Path, speed: float = 0.5) -> Path:
    project = folder / "project"
    project.mkdir(exist_ok=True)
    for i in range(3):
        (project / f"module{i}.py").write_text(f'"""Module {i}."""\n\ndef f{i}():\n    return {i}\n')
    plan = folder / "fleet.toml"
    plan.write_text(FLEET_PLAN.replace("speed = 0.5", f"speed = {speed}"))
    return plan


def tokenmaxx(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tokenmaxx.tui", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def completed(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokenmaxx.tui", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120)


def committed(db: Path, sql: str = "SELECT count(*) FROM events") -> int:
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=0.1) as conn:
            return int(conn.execute(sql).fetchone()[0])
    except sqlite3.Error:
        return 0


def wait_for_events(run: subprocess.Popen[str], db: Path, count: int = 10) -> None:
    deadline = time.monotonic() + 60
    while committed(db) < count:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the fleet never committed its first events"
        time.sleep(0.05)


def ended_with_one_message(run: subprocess.Popen[str], cause: str) -> str:
    """The run exits 2 within EXIT_WITHIN_S, its stderr naming `cause` once and holding no traceback."""
    try:
        _, err = run.communicate(timeout=EXIT_WITHIN_S)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, 9)
        out, err = run.communicate()
        pytest.fail(f"still running {EXIT_WITHIN_S} s after the fault:\n{err[-2000:]}")
    assert run.returncode == 2, err
    assert "Traceback" not in err and "Exception in callback" not in err, err
    assert err.count("tokenmaxx:") == 1 and cause in err, err
    return err


def session_id(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        (row,) = conn.execute("SELECT id FROM sessions").fetchall()
    conn.close()
    return str(row[0])


def resumes_to_the_end(folder: Path, db: Path) -> None:
    """`tokenmaxx resume` finishes the session, and its events stay one contiguous run."""
    sid = session_id(db)
    before = committed(db)
    run = completed("resume", sid, "--headless", "--db", db, cwd=folder)
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(db) as conn:
        seqs = [row[0] for row in conn.execute("SELECT seq FROM events WHERE session_id = ? ORDER BY seq", (sid,))]
        status = conn.execute("SELECT status FROM sessions WHERE id = ?", (sid,)).fetchone()[0]
    conn.close()
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > before
    assert status == "done"


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Path]:
    """A folder of its own filesystem (a 4 MB tmpfs), where the tests run as root and may mount."""
    target = tmp_path / "mnt"
    target.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(target)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(folder: Path) -> Path:
    """Write zeros into `folder` until its filesystem has no room left; the filler's path."""
    filler = folder / "filler"
    with filler.open("wb") as file:
        try:
            while True:
                file.write(b"\0" * 65536)
                file.flush()
        except OSError:
            pass
    return filler


@pytest.mark.slow
def test_a_full_disk_stops_the_fleet_and_the_session_resumes_once_there_is_room(tmp_path: Path, mounted: Path) -> None:
    db = mounted / "sessions.db"
    run = tokenmaxx("run", write_plan(tmp_path), "--headless", "--db", db, cwd=tmp_path)
    wait_for_events(run, db)
    filler = fill(mounted)
    ended_with_one_message(run, "the disk is full")
    filler.unlink()
    resumes_to_the_end(tmp_path, db)


@pytest.mark.slow
def test_a_lock_held_mid_run_stops_the_fleet_and_the_session_resumes(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    run = tokenmaxx("run", write_plan(tmp_path), "--headless", "--db", db, cwd=tmp_path)
    wait_for_events(run, db)
    with holding_the_lock(db, seconds=15):
        ended_with_one_message(run, "locked by another process")
    resumes_to_the_end(tmp_path, db)


def test_a_lock_held_at_start_is_reported_and_nothing_is_recorded(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    assert completed("sessions", "--db", db, cwd=tmp_path).returncode == 0
    with holding_the_lock(db, seconds=15):
        run = tokenmaxx("run", write_plan(tmp_path, speed=50), "--headless", "--db", db, cwd=tmp_path)
        err = ended_with_one_message(run, "locked by another process")
        assert f"pid {os.getpid()}" in err
    assert committed(db, "SELECT count(*) FROM sessions") == 0


class holding_the_lock:
    """Another connection holding the database's write lock (BEGIN EXCLUSIVE) for `seconds`, or until the block ends."""

    def __init__(self, db: Path, seconds: float) -> None:
        self.db, self.seconds = db, seconds
        self.release = threading.Event()
        self.taken = threading.Event()
        self.thread = threading.Thread(target=self._hold, name="lock-holder")

    def _hold(self) -> None:
        conn = sqlite3.connect(self.db, timeout=10, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            self.taken.set()
            self.release.wait(self.seconds)
            conn.execute("ROLLBACK")
        finally:
            conn.close()

    def __enter__(self) -> None:
        self.thread.start()
        assert self.taken.wait(15), "could not take the lock"

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join()


def test_a_garbled_database_is_reported_as_corrupt_without_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    first = completed("run", write_plan(tmp_path, speed=50), "--headless", "--db", db, cwd=tmp_path)
    assert first.returncode in (0, 1), first.stderr
    garble_pages_after_the_first(db)
    run = tokenmaxx("run", tmp_path / "fleet.toml", "--headless", "--db", db, cwd=tmp_path)
    ended_with_one_message(run, "the database is corrupt")


def garble_pages_after_the_first(db: Path) -> None:
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big") or 65536
    for offset in range(page, len(data), 7):
        data[offset] = (data[offset] * 31 + 7) % 256
    db.write_bytes(bytes(data))


def test_a_database_on_a_read_only_filesystem_is_called_read_only(tmp_path: Path, mounted: Path) -> None:
    db = mounted / "sessions.db"
    first = completed("run", write_plan(tmp_path, speed=50), "--headless", "--db", db, cwd=tmp_path)
    assert first.returncode in (0, 1), first.stderr
    remounted = subprocess.run(["mount", "-o", "remount,ro", str(mounted)], capture_output=True, text=True)
    if remounted.returncode != 0:
        pytest.skip(f"cannot remount read-only: {remounted.stderr.strip()}")
    run = tokenmaxx("run", tmp_path / "fleet.toml", "--headless", "--db", db, cwd=tmp_path)
    err = ended_with_one_message(run, "read-only")
    assert "not a tokenmaxx session database" not in err


@pytest.mark.slow
async def test_a_fault_under_the_tui_closes_the_app_and_raises_the_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenmaxx.agents.plan import load_plan
    from tokenmaxx.sessions.store import StoreError
    from tokenmaxx.tui import runner
    from tokenmaxx.tui.app import TokenmaxxApp

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(TokenmaxxApp, "run_async", functools.partialmethod(TokenmaxxApp.run_async, headless=True))
    db = tmp_path / "sessions.db"
    lines: list[str] = []
    running = asyncio.create_task(runner.run_tui(load_plan(write_plan(tmp_path)), db, echo=lines.append), name="tui")
    async with asyncio.timeout(60):
        while committed(db) < 10:
            await asyncio.sleep(0.05)
    with holding_the_lock(db, seconds=15):
        with pytest.raises(StoreError, match="locked by another process") as raised:
            await asyncio.wait_for(running, EXIT_WITHIN_S)
    assert "tokenmaxx resume" in str(raised.value) and not lines
