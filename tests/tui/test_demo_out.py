"""`tokenmaxx demo` in a git repository writes its outputs to the user data dir and leaves the repository's status clean."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tokenmaxx.agents.demo.sample_repo import create_sample_repo


@pytest.mark.slow
def test_the_demo_leaves_git_status_clean_and_says_where_its_outputs_went(tmp_path: Path) -> None:
    repo = create_sample_repo(tmp_path / "repo")
    data = tmp_path / "data"
    env = {**os.environ, "XDG_DATA_HOME": str(data), "TOKENMAXX_DB": str(tmp_path / "s.db")}
    result = subprocess.run(
        [sys.executable, "-m", "tokenmaxx.tui", "demo", "--headless", "--speed", "1000"], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True)
    assert status.stdout == ""
    out = data / "tokenmaxx" / "demo"
    (session,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert (session / "charts" / "loc.svg").is_file()
    assert f"outputs in {session}" in result.stdout
