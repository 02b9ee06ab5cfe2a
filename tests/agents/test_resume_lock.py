"""One resumer per session, and liveness read from the session's lock: never from a pid, which a PID namespace or a zombie fakes."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenmaxx.agents.resume import resumed_supervisor
from tokenmaxx.sessions.session_lock import lock_dir
from tokenmaxx.sessions.store import Store
from tests.agents.test_resume import committed_usages, kill_mid_run, write_plan

EXIT_SOON_S = 30  # only a guard against a hang: the loser exits at once


def tokenmaxx(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmaxx.tui", *args, "--db", str(db)], capture_output=True, text=True, timeout=60, check=False
    )


def start(*args: str, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tokenmaxx.tui", *args, "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Kill a tokenmaxx started by `start` if it still runs, and return what it printed."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    return process.communicate(timeout=60)


def status_of(db: Path) -> str:
    listed = tokenmaxx("sessions", "--json", db=db)
    assert listed.returncode == 0, listed.stderr
    (session,) = json.loads(listed.stdout)
    return str(session["status"])


def session_id(db: Path) -> str:
    with sqlite3.connect(db) as raw:
        (row,) = raw.execute("SELECT id FROM sessions").fetchall()
    raw.close()
    return str(row[0])


def record_writer(db: Path, pid: int, host: str | None = None) -> None:
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE sessions SET pid = ?, host = coalesce(?, host)", (pid, host))
    raw.close()


@pytest.fixture
def interrupted(tmp_path: Path) -> Path:
    """A database holding one session whose headless run was killed with SIGKILL mid-flight."""
    db = tmp_path / "s.db"
    kill_mid_run(write_plan(tmp_path), db)
    return db


async def resumable(db: Path) -> bool:
    async with await Store.open(db) as store:
        supervisor, _ = await resumed_supervisor(store, session_id(db), headless=True)
        await supervisor.finish("stopped")
    return True


@pytest.fixture
def zombie() -> Iterator[int]:
    """The pid of a child that has exited and is not yet reaped."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to see that the child is a zombie")
    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + EXIT_SOON_S
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.01)
    yield child.pid
    child.wait()


def test_two_resumes_of_one_session_run_it_once(interrupted: Path) -> None:
    sid = session_id(interrupted)
    both = [start("resume", sid, "--headless", db=interrupted) for _ in range(2)]
    deadline = time.monotonic() + EXIT_SOON_S
    while all(p.poll() is None for p in both):
        assert time.monotonic() < deadline, "neither resume gave way"
        time.sleep(0.05)
    loser, winner = both if both[0].poll() is not None else both[::-1]
    winner_out, _ = stop(winner)
    loser_out, loser_err = stop(loser)
    assert loser.returncode == 2, loser_err
    assert f"session {sid} is still running in tokenmaxx pid {winner.pid} on host" in loser_err
    assert "Traceback" not in loser_err and "resuming session" not in loser_out
    assert f"resuming session {sid}" in winner_out


@pytest.mark.parametrize("recorded", ["pid 1", "zombie"])
def test_a_dead_writer_whose_pid_still_exists_reads_as_interrupted(interrupted: Path, recorded: str, request: pytest.FixtureRequest) -> None:
    """pid 1 (as recorded inside a PID namespace) and an unreaped child both answer kill(pid, 0)."""
    record_writer(interrupted, 1 if recorded == "pid 1" else request.getfixturevalue("zombie"))
    assert status_of(interrupted) == "interrupted"
    assert asyncio.run(resumable(interrupted))


def test_a_live_run_reads_as_running_and_is_not_resumed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    runner = start("run", str(write_plan(tmp_path)), "--headless", db=db)
    try:
        deadline = time.monotonic() + 60
        while committed_usages(db) < 1:
            assert runner.poll() is None and time.monotonic() < deadline, "the run never reported usage"
            time.sleep(0.05)
        assert status_of(db) == "running"
        refused = tokenmaxx("resume", session_id(db), "--headless", db=db)
        assert runner.poll() is None, "the run ended before it could be refused"
    finally:
        stop(runner)
    assert refused.returncode == 2, refused.stderr
    assert f"is still running in tokenmaxx pid {runner.pid} on host" in refused.stderr
    assert "resuming session" not in refused.stdout


def test_force_resumes_a_session_nothing_can_check_with_a_warning(interrupted: Path) -> None:
    """With its lock folder gone and its pid taken by a live process, only --force takes it up."""
    shutil.rmtree(lock_dir(interrupted), ignore_errors=True)
    record_writer(interrupted, 1)
    assert status_of(interrupted) == "running"
    sid = session_id(interrupted)
    refused = tokenmaxx("resume", sid, "--headless", db=interrupted)
    assert refused.returncode == 2 and "resume it with --force" in refused.stderr
    forced = start("resume", sid, "--headless", "--force", db=interrupted)
    try:
        assert forced.stdout is not None
        first_line = forced.stdout.readline()
    finally:
        out, err = stop(forced)
    assert first_line.startswith(f"resuming session {sid}"), (first_line, out, err)
    assert "tokenmaxx: warning:" in err and "--force" in err


def test_another_hosts_session_is_taken_up_only_with_force(interrupted: Path) -> None:
    """A database on a shared filesystem, written on another host: neither its pid nor its lock can be trusted here."""
    record_writer(interrupted, 1, host="elsewhere")
    assert status_of(interrupted) == "running"
    refused = tokenmaxx("resume", session_id(interrupted), "--headless", db=interrupted)
    assert refused.returncode == 2 and "--force" in refused.stderr
