"""The `/` filter, the status groups and the sort keys of the fleet views."""

from __future__ import annotations

from tokenmaxx.sessions.state import AgentState, Tokens
from tokenmaxx.tui.agent_filter import AgentFilter, arrange

AGENTS = [
    AgentState(name="charts", role="chart-builder", provider="sim", model="claude-sonnet-4-6", status="streaming", cost_usd=0.3, started_at=0),
    AgentState(name="logs", role="log-analyst", provider="anthropic", model="claude-haiku-4-5", status="done", cost_usd=0.9, started_at=5, ended_at=50),
    AgentState(name="deck", role="deck-builder", provider="sim", model="claude-sonnet-4-6", status="tool", flags=("stalled",), tokens=Tokens(input=9000), started_at=10),
]


def names(flt: AgentFilter, key: str = "plan", reverse: bool = False) -> list[str]:
    return [a.name for a in arrange(AGENTS, flt, key, reverse, now=100.0)]


def test_substring_regex_and_inverted_filters() -> None:
    assert names(AgentFilter("SIM")) == ["charts", "deck"]
    assert names(AgentFilter("^(logs|deck)")) == ["logs", "deck"]
    assert names(AgentFilter("!sim")) == ["logs"]
    assert names(AgentFilter("stalled")) == ["deck"]


def test_anchors_apply_to_each_field() -> None:
    assert names(AgentFilter("^(logs|deck)$")) == ["logs", "deck"]
    assert names(AgentFilter("^claude-sonnet")) == ["charts", "deck"]
    assert names(AgentFilter("!^done$")) == ["charts", "deck"]


def test_a_pattern_that_is_not_a_regex_is_matched_as_text() -> None:
    flt = AgentFilter("c**")
    assert flt.regex_error is not None
    assert flt.matches(AgentState(name="c**bot")) and not flt.matches(AgentState(name="cbot"))
    assert flt.describe() == "matching 'c**' as text"
    assert AgentFilter("!sim", "active").describe() == "status: active, excluding 'sim'"


def test_status_groups_cycle_and_filter() -> None:
    flt = AgentFilter()
    groups = []
    for _ in range(4):
        flt = flt.next_group()
        groups.append((flt.group, names(flt)))
    assert groups == [("active", ["charts", "deck"]), ("flagged", ["deck"]), ("finished", ["logs"]), ("all", ["charts", "logs", "deck"])]


def test_sorts_put_the_most_urgent_and_the_biggest_first() -> None:
    assert names(AgentFilter(), "status") == ["deck", "charts", "logs"]
    assert names(AgentFilter(), "cost") == ["logs", "charts", "deck"]
    assert names(AgentFilter(), "tokens")[0] == "deck"
    assert names(AgentFilter(), "time") == ["charts", "deck", "logs"]
    assert names(AgentFilter(), "time", reverse=True) == ["logs", "deck", "charts"]
