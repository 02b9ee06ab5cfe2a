"""How numbers, money and statuses read: unknown prices never show as $0."""

from __future__ import annotations

import pytest

from tokenmaxx.sessions.state import AgentState, PendingApproval
from tokenmaxx.tui.format import count, duration, flag_hint, money, plural, status_of


def test_unknown_prices_are_a_question_mark_never_zero_dollars() -> None:
    assert money(0.0, unknown_tokens=500).plain == "?"
    assert money(0.25, unknown_tokens=500).plain == "$0.2500+?"
    assert "$cost-unknown" in str(money(0.0, unknown_tokens=1).spans[0].style)
    assert money(1.5, simulated=True).plain == "$1.50 sim"


@pytest.mark.parametrize(("n", "text"), [(950, "950"), (12_345, "12.3k"), (123_456, "123k"), (4_560_000, "4.56M")])
def test_counts(n: int, text: str) -> None:
    assert count(n) == text


@pytest.mark.parametrize(("s", "text"), [(-3, "0s"), (42.9, "42s"), (185, "3m05s"), (3720, "1h02m")])
def test_durations(s: float, text: str) -> None:
    assert duration(s) == text


@pytest.mark.parametrize(
    ("agent", "label", "detail", "tone"),
    [
        (AgentState(name="a", status="waiting", reason="after b"), "waiting on deps", "after b", "waiting"),
        (AgentState(name="a", status="tool", current_tool="run_command"), "running a tool", "run_command", "active"),
        (AgentState(name="a", status="retrying", retry_at=112.0), "retrying", "in 12s", "waiting"),
        (AgentState(name="a", status="streaming", flags=("stalled",)), "stalled", "", "stalled"),
        (AgentState(name="a", status="tool", flags=("looping",)), "looping", "", "looping"),
        (AgentState(name="a", status="over_budget", flags=("over_budget",)), "over budget", "", "failed"),
        (AgentState(name="a", status="killed", flags=("stalled",)), "killed", "", "killed"),
        (
            AgentState(name="a", status="awaiting_approval", pending=(PendingApproval(call_id="c", tool="run_command", args={}, ts=0),)),
            "awaiting approval", "run_command", "approval",
        ),
    ],
)
def test_honest_statuses(agent: AgentState, label: str, detail: str, tone: str) -> None:
    view = status_of(agent, now=100.0)
    assert (view.label, view.detail, view.tone) == (label, detail, tone)


def test_a_looping_agent_is_restarted_first_and_killed_second() -> None:
    """Killing a looping agent skips every agent after it, so the restart comes first."""
    assert flag_hint("looping") == "R restart · k kill"


@pytest.mark.parametrize("flag", ["stalled", "burning"])
def test_stalled_and_burning_agents_are_reprompted(flag: str) -> None:
    assert flag_hint(flag) == "r reprompt"


def test_over_budget_offers_no_key_and_says_why() -> None:
    hint = flag_hint("over_budget")
    assert hint == "budget spent"
    assert all(f"{key} " not in hint for key in ("r", "R", "k", "p"))


@pytest.mark.parametrize(("n", "text"), [(0, "0 agents"), (1, "1 agent"), (2, "2 agents"), (1200, "1,200 agents")])
def test_counts_agree_with_their_noun(n: int, text: str) -> None:
    assert plural(n, "agent") == text


def test_an_agent_asked_to_pause_says_so_until_it_stops() -> None:
    view = status_of(AgentState(name="logs", status="streaming", pausing=True), now=0.0)
    assert (view.label, view.detail, view.tone) == ("streaming", "pausing at its next safe point", "paused")
    assert status_of(AgentState(name="logs", status="done", pausing=True), now=0.0).detail == ""
