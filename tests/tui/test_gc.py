"""`tokenmaxx gc` after a fleet was killed with kill -9: its worktrees listed, clean ones removed, dirty ones asked for."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from tests.agents.gitrepo import branches, make_repo
from tokenmaxx.tui.cli import main

CRASH = """
import asyncio, os, signal, sys
from pathlib import Path
from tokenmaxx.agents.worktrees import create_worktree

async def main():
    repo = Path(sys.argv[1])
    await create_worktree(repo, "dead1", "clean", None, None)
    dirty = await create_worktree(repo, "dead1", "dirty", None, None)
    (dirty.path / "work.txt").write_text("not committed\\n")
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def crashed_session(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    make_repo(repo, {"README.md": "hi\n"})
    done = subprocess.run([sys.executable, "-c", CRASH, str(repo)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr
    return repo


def test_gc_lists_then_removes_what_a_killed_session_left(tmp_path: Path) -> None:
    repo = crashed_session(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(main, ["gc", str(repo)])
    assert listed.exit_code == 0
    assert "tokenmaxx/dead1/clean  (worktree" in listed.output and "tokenmaxx/dead1/dirty  (worktree" in listed.output
    assert "UNCOMMITTED CHANGES" in listed.output and "tokenmaxx gc --yes" in listed.output
    assert sorted(branches(repo)) == ["main", "tokenmaxx/dead1/clean", "tokenmaxx/dead1/dirty"]
    removed = runner.invoke(main, ["gc", str(repo), "--yes"])
    assert "removed tokenmaxx/dead1/clean" in removed.output and "kept tokenmaxx/dead1/dirty" in removed.output
    assert sorted(branches(repo)) == ["main", "tokenmaxx/dead1/dirty"]
    dirty = repo / ".git" / "tokenmaxx" / "dead1" / "dirty" / "work.txt"
    assert dirty.read_text() == "not committed\n"
    forced = runner.invoke(main, ["gc", str(repo), "--yes", "--force"])
    assert "removed tokenmaxx/dead1/dirty" in forced.output and branches(repo) == ["main"] and not dirty.exists()
    assert "no tokenmaxx worktrees" in runner.invoke(main, ["gc", str(repo)]).output


def test_gc_outside_a_repository_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["gc", str(tmp_path)])
    assert result.exit_code == 2 and "is not a git repository" in result.output
