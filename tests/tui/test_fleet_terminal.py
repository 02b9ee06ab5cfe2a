"""The fleet outlives its TUI, in a real terminal: demo, detach, ps, ctl, attach, reprompt the stalled agent, ctrl+q, stop."""

from __future__ import annotations

import re
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from tokenmaxx.agents.demo.sample_repo import create_sample_repo
from tests.tui.test_terminal import AGENTS, Terminal

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it where it can)"),
]


def actions(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT agent, payload FROM events WHERE kind = 'supervisor_action'").fetchall()
    return [(agent, re.search(r'"action":"(\w+)"', p)[1], re.search(r'"by":"([^"]+)"', p)[1]) for agent, p in rows]  # type: ignore[index]


def session_status(db: Path) -> str:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT status FROM sessions").fetchone()[0]


def test_detach_ps_attach_reprompt_and_stop(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    repo = create_sample_repo(tmp_path / "repo")
    db = tmp_path / "s.db"
    tokenmaxx = f"{sys.executable} -m tokenmaxx.tui"
    env = {"TOKENMAXX_CONFIG_DIR": tmp_path / "config", "TOKENMAXX_RUNTIME_DIR": fleet_runtime_dir, "TOKENMAXX_DB": db, "TERM": "xterm-256color", "PS1": "$ "}
    shell = f"env -u COLUMNS -u LINES {' '.join(f'{k}={v}' for k, v in env.items())} bash --norc --noprofile"
    term = Terminal(tmp_path / "tmux.sock")
    term.tmux("new-session", "-d", "-s", "e2e", "-x", "200", "-y", "50", "-c", str(repo), shell)
    try:
        term.keys(f"{tokenmaxx} demo --speed 5 --out {tmp_path / 'out'}", "Enter")
        term.wait_for(lambda s: all(name in s for name in AGENTS))
        term.keys("q")
        term.wait_for(lambda s: "Detach from fleet" in s, timeout=10)
        term.keys("d")
        detached = term.wait_for(lambda s: "detached: the fleet runs on" in s, timeout=10)
        session = re.search(r"tokenmaxx attach (\w+)", detached)[1]  # type: ignore[index]

        term.keys("clear", "Enter", f"{tokenmaxx} ps", "Enter")
        term.wait_for(lambda s: re.search(rf"{session}\s+demo\s+\d+", s) is not None, timeout=10)

        term.keys("clear", "Enter", f"{tokenmaxx} ctl {session} pause charts", "Enter")  # keeps the fleet up till the stop
        term.wait_for(lambda s: "pause charts: done" in s, timeout=10)

        term.keys("clear", "Enter", f"{tokenmaxx} attach", "Enter")
        term.wait_for(lambda s: "STALLED" in s and "factcheck" in s, timeout=40)
        term.keys("/")
        term.wait_for(lambda s: "filter: text or regex" in s, timeout=10)
        term.keys(*"factcheck")
        term.wait_for(lambda s: "1 of 5 agents" in s, timeout=10)
        term.keys("Enter")
        term.keys("r")
        term.wait_for(lambda s: "ctrl+s" in s.lower(), timeout=10)
        term.keys(*"Carry on please", "C-s")
        deadline = time.monotonic() + 10
        while not any(a[:2] == ("factcheck", "reprompt") and a[2].startswith("tui:") for a in actions(db)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any(a[:2] == ("factcheck", "reprompt") and a[2].startswith("tui:") for a in actions(db)), actions(db)

        term.keys("C-q")
        term.wait_for(lambda s: "detached: the fleet runs on" in s, timeout=10)
        term.keys("clear", "Enter", f"{tokenmaxx} stop {session}", "Enter")
        term.wait_for(lambda s: f"stopped the fleet of session {session}" in s, timeout=30)
        assert session_status(db) == "stopped"
        assert ("charts", "pause", "ctl") == (lambda a: (a[0], a[1], a[2].split(":")[0]))(next(a for a in actions(db) if a[0] == "charts" and a[1] == "pause"))
        assert not list(fleet_runtime_dir.rglob("*.sock"))
    finally:
        term.tmux("kill-server")
