"""`tokenmaxx doctor`: which sandbox confines commands here, exit 0 when one does and 1 with the fix when none does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tokenmaxx.agents.tools.sandbox import bwrap_problem


def doctor(tmp_path: Path, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path}
    command = [sys.executable, "-m", "tokenmaxx.tui", "doctor", "--db", str(tmp_path / "s.db")]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.skipif(bwrap_problem() is not None, reason=f"bubblewrap cannot run here: {bwrap_problem()}")
def test_doctor_names_bubblewrap_and_exits_0(tmp_path: Path) -> None:
    done = doctor(tmp_path, os.environ["PATH"])
    assert done.returncode == 0, done.stderr
    assert "sandbox:  bwrap (bubblewrap " in done.stdout and "network: isolated" in done.stdout
    assert f"database: {tmp_path / 's.db'}" in done.stdout and "textual:" in done.stdout


def test_doctor_without_bubblewrap_says_the_fix_and_exits_1(tmp_path: Path) -> None:
    done = doctor(tmp_path, str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert "sandbox:  none: bubblewrap (bwrap) is not installed" in done.stdout
    assert "apt-get install bubblewrap" in done.stdout
