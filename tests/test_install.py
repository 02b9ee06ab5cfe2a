"""The wheel installs under one namespace, so tokenmaxx lives beside OpenAI's Agents SDK (a top-level `agents`)."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

PROBE = """
import agents, tokenmaxx.agents.supervisor, tokenmaxx.tui.cli
from agents import Agent, Runner
assert agents.__file__ != tokenmaxx.agents.__file__, agents.__file__
print("both import")
"""


@pytest.mark.slow
def test_tokenmaxx_and_openai_agents_install_into_one_environment(tmp_path: Path) -> None:
    """openai-agents installs a top-level `agents`; tokenmaxx's packages must not collide with it."""
    venv.create(tmp_path / "venv", with_pip=True)
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT), "openai-agents"],
        capture_output=True, text=True, timeout=540,
    )
    if install.returncode != 0 and "No matching distribution" in install.stderr + install.stdout:
        pytest.skip(f"openai-agents cannot be installed here: {install.stderr.strip()[-300:]}")
    assert install.returncode == 0, install.stderr[-2000:]
    probe = subprocess.run([python, "-c", PROBE], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert probe.stdout.strip() == "both import", probe.stderr
    cli = subprocess.run([tmp_path / "venv" / "bin" / "tokenmaxx", "--help"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert cli.returncode == 0 and "Mission control" in cli.stdout, cli.stderr


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """A new subpackage must be added to pyproject's explicit list, or the wheel would silently leave it out."""
    listed = set(__import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {
        "tokenmaxx." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("agents", "sessions", "tui", "themes")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert folders == listed
