"""SIGTERM and SIGHUP stop a headless run in order, as ctrl+c does: commands ended, session stopped and resumable."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.tui.test_storage_faults import resumes_to_the_end, tokenmaxx

ANALYST_PLAN = """
name = "signalled"
workdir = "project"
out = "out"
stall_after = 60

[providers.sim]
kind = "sim"
speed = 50.0

[[agents]]
name = "logs"
role = "log-analyst"
task = "Group the fleet's failures by root cause."
policy = { run_command = "auto" }
"""
SLOW_PYTHON = '#!/bin/sh\necho $$ > "{pids}/$$"\nexec sleep 300\n'


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting to be reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def with_a_slow_command(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A plan whose agent runs `python3 failures.py`, and a PATH on which that python3 sleeps, noting its pid."""
    (tmp_path / "project").mkdir()
    plan = tmp_path / "fleet.toml"
    plan.write_text(ANALYST_PLAN)
    shims, pids = tmp_path / "shims", tmp_path / "pids"
    shims.mkdir()
    pids.mkdir()
    python = shims / "python3"
    python.write_text(SLOW_PYTHON.format(pids=pids))
    python.chmod(0o755)
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"}
    return plan, pids, env


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_fleet_in_order_and_the_session_resumes(tmp_path: Path, signum: signal.Signals) -> None:
    plan, pids, env = with_a_slow_command(tmp_path)
    db = tmp_path / "sessions.db"
    run = tokenmaxx("run", plan, "--headless", "--db", db, cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while not any(pids.iterdir()):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the agent never ran its command"
        time.sleep(0.05)
    (command_pid,) = (int(p.name) for p in pids.iterdir())
    run.send_signal(signum)
    try:
        out, err = run.communicate(timeout=10)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate()
    assert run.returncode == 128 + signum, err
    assert f"stopped by {signum.name}" in err and "Traceback" not in err, err
    assert "session ended: stopped" in out
    assert not alive(command_pid), "the agent's command outlived the fleet"
    with sqlite3.connect(db) as conn:
        (status,) = conn.execute("SELECT status FROM sessions").fetchone()
    conn.close()
    assert status == "stopped"
    resumes_to_the_end(tmp_path, db)
