"""Two coding agents in worktrees, in a real terminal: `tokenmaxx run`, `a` merges one diff, `x` with a note sends the other back."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from tokenmaxx.agents.worktree_runs import REWORK_PREFIX
from tests.agents.gitrepo import git, make_repo
from tests.tui.test_terminal import Terminal

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it where it can)"),
]

NOTE = "Name the file BETA.md instead"
PLAN = """name = "pair"
workdir = "repo"
out = "out"
workspace = "worktree"
merge = "merge"
sandbox = "none"

[providers.sim]
kind = "sim"
speed = 50

[roles.coder]
prompt = "You edit code."
tools = ["list_files", "read_file", "write_file"]

[[agents]]
name = "alpha"
role = "coder"
task = "Write alpha.md about the project."

[[agents]]
name = "beta"
role = "coder"
task = "Write beta.md about the project."
"""


def rows(db: Path, kind: str) -> list[tuple[str, dict[str, object]]]:
    """The store's events of `kind`, none while the fleet has not made its database yet."""
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
            found = conn.execute("SELECT agent, payload FROM events WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
    except sqlite3.OperationalError:
        return []
    return [(agent, json.loads(payload)) for agent, payload in found]


def wait_until(condition, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Poll the store until `condition()` holds; a generous guard against a hang, not a timing."""
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert condition()


def reviewed(db: Path, agent: str, verdict: str) -> bool:
    return any(a == agent and p["verdict"] == verdict for a, p in rows(db, "artifact_review"))


def test_accept_one_diff_and_reject_the_other_with_a_note(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    repo = tmp_path / "repo"
    make_repo(repo, {"README.md": "# Project\nline two\n"})
    (tmp_path / "fleet.toml").write_text(PLAN)
    db = tmp_path / "s.db"
    env = {"TOKENMAXX_CONFIG_DIR": tmp_path / "config", "TOKENMAXX_RUNTIME_DIR": fleet_runtime_dir, "TOKENMAXX_DB": db, "TERM": "xterm-256color", "PS1": "$ "}
    shell = f"env -u COLUMNS -u LINES {' '.join(f'{k}={v}' for k, v in env.items())} bash --norc --noprofile"
    term = Terminal(tmp_path / "tmux.sock")
    term.tmux("new-session", "-d", "-s", "e2e", "-x", "200", "-y", "50", "-c", str(tmp_path), shell)
    try:
        term.keys(f"{sys.executable} -m tokenmaxx.tui run fleet.toml", "Enter")
        wait_until(lambda: len(rows(db, "artifact")) == 2)
        term.wait_for(lambda s: "alpha" in s and "beta" in s and s.count("DONE") >= 2)
        term.keys("a")
        wait_until(lambda: reviewed(db, "alpha", "accepted"))
        term.keys("Right", "x")
        term.wait_for(lambda s: "a note goes back to it as rework" in s, timeout=10)
        term.keys(*NOTE, "C-s")
        wait_until(lambda: reviewed(db, "beta", "rejected"))
        wait_until(lambda: any(a == "beta" and NOTE in str(p) for a, p in rows(db, "supervisor_action") if p.get("action") == "reprompt"))
    except AssertionError:
        print(term.screen())
        raise
    finally:
        term.tmux("kill-server")
    assert (repo / "alpha.md").exists() and not (repo / "beta.md").exists()
    assert git(repo, "status", "--porcelain") == "" and git(repo, "diff", "--name-only", "main~1", "main") == "alpha.md"
    (note,) = [p["note"] for a, p in rows(db, "artifact_review") if a == "beta"]
    assert note == NOTE
    reprompts = [p for a, p in rows(db, "supervisor_action") if a == "beta" and p.get("action") == "reprompt"]
    assert [p["text"] for p in reprompts] == [REWORK_PREFIX + NOTE]
