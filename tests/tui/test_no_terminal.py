"""Without a terminal, the TUI commands exit 2 at once and name the command that works instead."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PLAN = 'name = "t"\nworkdir = "."\nout = "out"\n[[agents]]\nname = "a"\nrole = "critic"\nprovider = "sim"\ntask = "Read."\n'


def tokenmaxx(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command with stdin from /dev/null and stdout a pipe, as from a script or a CI job."""
    command = [sys.executable, "-c", "from tokenmaxx.tui.cli import main; main()", *args, "--db", str(tmp_path / "s.db")]
    return subprocess.run(command, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "instead"),
    [
        ((), "`tokenmaxx sessions`"),
        (("replay", "abcd"), "--headless"),
        (("run", "fleet.toml"), "--headless"),
        (("demo",), "--headless"),
        (("resume", "abcd"), "--headless"),
    ],
)
def test_a_tui_command_without_a_terminal_exits_2_and_names_the_way_out(tmp_path: Path, args: tuple[str, ...], instead: str) -> None:
    (tmp_path / "fleet.toml").write_text(PLAN)
    done = tokenmaxx(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert "needs a terminal" in done.stderr and instead in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
