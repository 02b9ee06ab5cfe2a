"""Imports point one way (tui -> agents -> sessions, tui -> themes), and the SDKs load only when used."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
FORBIDDEN = {
    "sessions": {"agents", "tui", "themes", "textual"},
    "agents": {"tui", "themes", "textual"},
    "themes": {"agents", "sessions", "tui"},
}


def _root(module: str) -> str:
    """The project package (or other top-level name) an import names: tokenmaxx.agents.x -> agents."""
    return module.removeprefix("tokenmaxx.").split(".")[0]


def imported_roots(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {(_root(alias.name), node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((_root(node.module), node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_downstream(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for name, line in imported_roots(path)
        if name in FORBIDDEN[package]
    ]
    assert wrong == []


def test_the_supervisor_runs_without_textual_or_the_sdks() -> None:
    code = (
        "import sys, tokenmaxx.agents.supervisor, tokenmaxx.agents.resume, tokenmaxx.agents.providers.sim, tokenmaxx.sessions.store, tokenmaxx.sessions.store_api\n"
        "print(sorted(m for m in ('textual', 'anthropic', 'openai', 'httpx2', 'claude_agent_sdk', 'psycopg') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.stdout.strip() == "[]", result.stderr
