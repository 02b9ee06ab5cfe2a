"""Headless progress lines and the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import reduce_all
from tests.agents.scripted import make_plan
from tokenmaxx.tui import runner
from tokenmaxx.tui.headless import ProgressPrinter, exit_code, money, summary_table

FAST_SIM = """
[providers.fast]
kind = "sim"
speed = 100.0

[roles.noter]
prompt = "You keep notes."
tools = ["read_file", "list_files", "write_file"]
"""
NOTER = """
[[agents]]
name = "a"
role = "noter"
provider = "fast"
task = "Write notes.md about the project."
"""


def stamp(events: list[ev.Event]) -> list[ev.Event]:
    return [e.model_copy(update={"session_id": "s", "seq": i + 1, "ts": 100.0 + i}) for i, e in enumerate(events)]


def printed(events: list[ev.Event]) -> list[str]:
    lines: list[str] = []
    printer = ProgressPrinter(lines.append)
    state = reduce_all([])
    for event in stamp(events):
        state = reduce_all([event], state)
        printer(event, state)
    return lines


def test_plan_reloads_and_rejections_are_told() -> None:
    lines = printed(
        [
            ev.PlanLoaded(path="fleet.toml", agents=["a", "b"], reload=True, changed_on_restart=["a"]),
            ev.PlanRejected(path="fleet.toml", error='line 13: agents[1].after: unknown agent "dek"'),
        ]
    )
    assert lines[0].endswith("plan reloaded: fleet.toml (2 agents; changes on restart for a)")
    assert lines[1].endswith('plan edit rejected: fleet.toml: line 13: agents[1].after: unknown agent "dek" (the running plan goes on)')


def test_status_lines_skip_the_chatter_between_streaming_and_tools() -> None:
    lines = printed(
        [
            ev.AgentStatusChanged(agent="a", status="starting"),
            ev.AgentStatusChanged(agent="a", status="streaming"),
            ev.AgentStatusChanged(agent="a", status="tool", reason="read_file"),
            ev.AgentStatusChanged(agent="a", status="paused", reason="by you"),
        ]
    )
    assert [line.split(None, 1)[1] for line in lines] == ["a            starting", "a            paused (by you)"]


def test_exit_code_ignores_agents_withdrawn_from_the_plan() -> None:
    done = [ev.AgentFinished(agent="a", outcome="done")]
    assert exit_code(reduce_all(stamp(done))) == 0
    assert exit_code(reduce_all(stamp([*done, ev.AgentFinished(agent="b", outcome="killed")]))) == 1
    assert exit_code(reduce_all([])) == 1
    withdrawn = [
        *done,
        ev.AgentQueued(agent="b", role="critic", provider="sim", model="m"),
        ev.PlanLoaded(path="fleet.toml", agents=["a"], reload=True),
        ev.AgentFinished(agent="b", outcome="skipped", summary="removed from the plan"),
    ]
    state = reduce_all(stamp(withdrawn))
    assert state.agents["b"].withdrawn and exit_code(state) == 0


def test_money_never_shows_unknown_as_zero() -> None:
    assert money(0.0, unknown_tokens=120) == "?"
    assert money(0.5, unknown_tokens=1) == "$0.5000+?"
    assert money(1.5, simulated=True) == "$1.50 (sim)"


def test_the_summary_has_a_row_per_agent_and_a_total() -> None:
    state = reduce_all(stamp([ev.AgentFinished(agent="a", outcome="done"), ev.AgentFinished(agent="b", outcome="failed")]))
    table = summary_table(state).splitlines()
    assert table[0].split()[:2] == ["agent", "outcome"] and table[2].startswith("a ") and table[-1].startswith("total")
    assert "1/2 done" in table[-1]



def test_the_summary_shows_unpriced_tokens_beside_the_question_mark() -> None:
    usage = [
        ev.UsageReported(agent="a", provider="p", model="m", input_tokens=5000, output_tokens=800),
        ev.UsageReported(agent="b", provider="p", model="n", input_tokens=100, output_tokens=10, cost_usd=0.25),
    ]
    table = summary_table(reduce_all(stamp(usage))).splitlines()
    assert "? (+5,800 tok unpriced)" in table[2]
    assert "$0.2500" in table[3] and "unpriced" not in table[3]
    assert "$0.2500+? (+5,800 tok unpriced)" in table[-1]


async def test_a_headless_run_freezes_the_heap_once_the_fleet_has_settled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frozen: list[bool] = []
    monkeypatch.setattr(runner, "freeze_heap", lambda: frozen.append(True))
    monkeypatch.setattr(runner, "HEAP_SETTLED_S", 0.0)
    plan = make_plan(tmp_path, NOTER, FAST_SIM)
    (tmp_path / "project" / "README.md").write_text("# A project\n")  # something to take notes on
    assert await runner.run_headless(plan, tmp_path / "s.db", yes=False, echo=lambda line: None) == 0
    assert frozen == [True]


def test_sandbox_notices_are_told_when_the_plan_loads() -> None:
    notice = 'a: the plan sets sandbox = "none"; run_command asks instead of running unconfined'
    lines = printed([ev.PlanLoaded(path="fleet.toml", agents=["a"], notices=[notice]), ev.PlanLoaded(path="fleet.toml", agents=["a"])])
    assert len(lines) == 1 and lines[0].endswith(f"notice: {notice}")
