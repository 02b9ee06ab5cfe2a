"""SIGTERM and SIGHUP stop a headless run in order, as ctrl+c does: commands ended, session stopped and resumable."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from tests.tui.test_storage_faults import resumes_to_the_end, tokenmaxx
from tests.processes import alive

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
history = true
"""
SLOW_PYTHON = "#!/bin/sh\nexec /usr/bin/python3 -c 'import time; time.sleep(300)' {marker}\n"


def marked(marker: str) -> list[int]:
    """The host pids of the processes whose command line carries `marker` (a zombie waiting to be reaped does not count)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and marker in (proc / "cmdline").read_bytes().decode(errors="replace") and alive(int(proc.name)):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def with_a_slow_command(tmp_path: Path) -> tuple[Path, str, dict[str, str]]:
    """A plan whose agent runs `python3 failures.py`, and a PATH on which that python3 sleeps with a marker.

    The shim lives in the project, which the sandbox shows to commands (read-only), so it runs sandboxed or not;
    the marker finds it among the host's processes, whatever pid namespace it runs in.
    """
    (tmp_path / "project").mkdir()
    plan = tmp_path / "fleet.toml"
    plan.write_text(ANALYST_PLAN)
    shims = tmp_path / "project" / "shims"
    shims.mkdir()
    marker = f"tokenmaxx-signal-test-{uuid.uuid4().hex}"
    python = shims / "python3"
    python.write_text(SLOW_PYTHON.format(marker=marker))
    python.chmod(0o755)
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"}
    return plan, marker, env


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_fleet_in_order_and_the_session_resumes(tmp_path: Path, signum: signal.Signals) -> None:
    plan, marker, env = with_a_slow_command(tmp_path)
    db = tmp_path / "sessions.db"
    run = tokenmaxx("run", plan, "--headless", "--db", db, cwd=tmp_path, env=env)
    deadline = time.monotonic() + 60
    while not marked(marker):
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the agent never ran its command"
        time.sleep(0.05)
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
    assert marked(marker) == [], "the agent's command outlived the fleet"
    with sqlite3.connect(db) as conn:
        (status,) = conn.execute("SELECT status FROM sessions").fetchone()
    conn.close()
    assert status == "stopped"
    resumes_to_the_end(tmp_path, db)


def test_a_command_whose_terminal_hung_up_exits_even_when_its_shutdown_sticks() -> None:
    script = textwrap.dedent(
        """
        import asyncio, time
        from tokenmaxx.tui import cli

        cli.HANGUP_GRACE_S = 0.5

        async def stuck():
            print("ready", flush=True)
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                time.sleep(60)  # a shutdown that never ends, as Textual's writer thread's did on a dead terminal

        cli.run_async(stuck)
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as command:
        assert command.stdout is not None and command.stdout.readline() == "ready\n"
        command.send_signal(signal.SIGHUP)
        assert command.wait(timeout=20) == 128 + signal.SIGHUP
