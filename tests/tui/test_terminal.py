"""`tokenmaxx demo` in a real terminal (tmux at 200x50): five agents, rising tokens, a kill from the keyboard."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tokenmaxx.agents.demo.sample_repo import create_sample_repo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it where it can)"),
]
AGENTS = ("charts", "logs", "factcheck", "deck", "critique")


class Terminal:
    """One tmux session on its own server socket, so tests never touch a user's tmux."""

    def __init__(self, socket: Path) -> None:
        self.socket = str(socket)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, timeout=10).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "e2e")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "e2e", *keys)

    def wait_for(self, condition: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if condition(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"the screen never showed what was expected; last screen:\n{self.screen()}")


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(tmp_path / "tmux.sock")
    yield term
    term.tmux("kill-server")


def output_tokens(screen: str) -> float:
    match = re.search(r"tokens\s+in \S+\s+out ([\d.,]+)(k?)", screen)
    assert match, screen
    value = float(match.group(1).replace(",", ""))
    return value * 1000 if match.group(2) else value


def outcome(db: Path, agent: str) -> str | None:
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT payload FROM events WHERE kind = 'agent_finished' AND agent = ?", (agent,)).fetchall()
    return re.search(r'"outcome":"(\w+)"', rows[-1][0]).group(1) if rows else None  # type: ignore[union-attr]


def test_the_demo_in_a_real_terminal(tmp_path: Path, terminal: Terminal) -> None:
    repo = create_sample_repo(tmp_path / "repo")
    db = tmp_path / "s.db"
    command = f"{sys.executable} -m tokenmaxx.tui demo --db {db} --out {tmp_path / 'out'}"
    env = {"TOKENMAXX_CONFIG_DIR": str(tmp_path / "config"), "TERM": "xterm-256color"}
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    launch = f"env -u COLUMNS -u LINES {exports} {command}"  # tmux may pass a stale 80x24 in these
    terminal.tmux("new-session", "-d", "-s", "e2e", "-x", "200", "-y", "50", "-c", str(repo), launch)

    first = terminal.wait_for(lambda s: all(name in s for name in AGENTS) and output_tokens(s) > 0)
    second = terminal.wait_for(lambda s: output_tokens(s) > output_tokens(first), timeout=15)
    assert output_tokens(second) > output_tokens(first)

    terminal.keys("k")
    terminal.wait_for(lambda s: "Kill charts? Work in flight is lost." in s, timeout=10)
    terminal.keys("y")
    terminal.wait_for(lambda s: "KILLED" in s, timeout=10)
    deadline = time.monotonic() + 10
    while outcome(db, "charts") != "killed" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert outcome(db, "charts") == "killed"

    terminal.keys("q")
    terminal.wait_for(lambda s: "Detach from fleet" in s and "Stop the fleet (s)" in s, timeout=10)
    terminal.keys("s")
    deadline = time.monotonic() + 15
    while "e2e" in terminal.tmux("list-sessions") and time.monotonic() < deadline:
        time.sleep(0.2)
    with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
        (status,) = conn.execute("SELECT status FROM sessions").fetchone()
    assert status in ("stopped", "failed")
    assert os.path.exists(db)
