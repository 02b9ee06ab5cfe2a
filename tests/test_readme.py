"""The README's quick start: a new user reads how to install apart from the system and how long the tests take."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def quick_start() -> str:
    text = README.read_text(encoding="utf-8")
    return text.split("## Quick start", 1)[1].split("\n## ", 1)[0]


def test_the_quick_start_installs_into_a_virtual_environment_before_pip() -> None:
    section = quick_start()
    assert re.search(r"python3 -m venv \S+ && \. \S+/bin/activate\n+pip install", section)


def test_the_quick_start_offers_pipx_and_uv_for_the_command_alone() -> None:
    section = quick_start()
    assert "pipx install ." in section and "uv tool install ." in section


def test_the_quick_start_says_how_long_the_tests_take_and_where_the_demo_writes() -> None:
    section = quick_start()
    assert "about 6 minutes" in section and "~/.local/share/tokenmaxx/demo/" in section
