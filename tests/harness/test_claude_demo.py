"""`tokenmaxx demo --harness claude-code`: the five roles as Claude Code agents on the demo's own local model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tokenmaxx.sessions.store import Store

DELIVERABLES = ("charts/loc.svg", "charts/loc.csv", "logs/failures.csv", "logs/failures.svg", "factcheck/report.md", "deck/index.html", "critique/critique.md")
HANG_GUARD_S = 120


def demo(tmp_path: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *prefix, "demo", "--harness", "claude-code", "--headless", "--db", str(tmp_path / "s.db"), "--out", str(tmp_path / "out")]
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=HANG_GUARD_S)


@pytest.mark.slow
async def test_the_demo_runs_its_five_roles_through_claude_code(tmp_path: Path) -> None:
    pytest.importorskip("claude_agent_sdk", reason="the Claude Code demo needs the extra: pip install -e '.[claude-code]'")
    done = demo(tmp_path, "-m", "tokenmaxx.tui")
    assert done.returncode == 0, done.stderr
    async with await Store.open(tmp_path / "s.db") as store:
        (summary,) = await store.sessions()
        events = await store.events(summary.id)
    outcomes = {e.agent: e.outcome for e in events if e.kind == "agent_finished"}
    assert outcomes == dict.fromkeys(("charts", "logs", "factcheck", "deck", "critique"), "done")
    harness_sessions = {e.agent for e in events if getattr(e, "harness_session", None)}
    assert harness_sessions == set(outcomes)
    for deliverable in DELIVERABLES:
        assert (tmp_path / "out" / summary.id / deliverable).stat().st_size > 0, deliverable
    assert summary.input_tokens > 0 and summary.output_tokens > 0


def test_the_demo_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    hide = "import sys; sys.modules['claude_agent_sdk'] = None; from tokenmaxx.tui.cli import main; main()"
    refused = demo(tmp_path, "-c", hide)
    assert refused.returncode == 2
    assert 'pip install "tokenmaxx[claude-code]"' in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "s.db").exists()
