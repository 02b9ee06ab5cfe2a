"""Stats: spend beside outcomes by role, model, plan and day, summed in SQL from a few event kinds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.stats import Group, compute_stats
from tokenmaxx.sessions.store import Store
from tokenmaxx.sessions.store_api import is_url, open_store

DAY_ONE = datetime(2026, 3, 1, 12, 0).timestamp()
DAY_TWO = datetime(2026, 3, 2, 12, 0).timestamp()


def at(session_id: str, start: float, timed: list[tuple[float, ev.Event]]) -> list[ev.Event]:
    return [e.model_copy(update={"session_id": session_id, "seq": i, "ts": start + t}) for i, (t, e) in enumerate(timed, 1)]


def sonnet(agent: str, **usage: object) -> ev.UsageReported:
    return ev.UsageReported(agent=agent, provider="anthropic", model="sonnet", **usage)  # type: ignore[arg-type]


def nightly() -> list[ev.Event]:
    """Two agents: charts (1 h, helped by the watchdog, one deliverable rejected then accepted), deck (30 min, unaided)."""
    usage = ev.UsageReported
    return at(
        "a00000000001",
        DAY_ONE,
        [
            (0, ev.SessionStarted(name="nightly", cwd="/w", version="1")),
            (1, ev.AgentQueued(agent="charts", role="chart-builder", provider="anthropic", model="sonnet")),
            (1, ev.AgentQueued(agent="deck", role="deck-builder", provider="openai", model="gpt")),
            (10, ev.AgentStatusChanged(agent="charts", status="starting")),
            (20, ev.AgentStatusChanged(agent="deck", status="streaming")),
            (30, sonnet("charts", input_tokens=1000, output_tokens=100, cache_read_tokens=600, cache_write_tokens=100, cost_usd=0.01)),
            (40, sonnet("charts", input_tokens=500, output_tokens=50, cache_read_tokens=400, cost_usd=None)),
            (50, usage(agent="deck", provider="openai", model="gpt", input_tokens=2000, output_tokens=200, reasoning_tokens=80, cost_usd=0.05)),
            (60, ev.Artifact(agent="charts", path="loc.svg", bytes=10, sha256="ab" * 32)),
            (70, ev.SupervisorAction(agent="charts", action="reprompt", text="go on", by="watchdog")),
            (100, ev.ArtifactReview(agent="charts", path="loc.svg", verdict="rejected")),
            (200, ev.ArtifactReview(agent="charts", path="loc.svg", verdict="accepted")),
            (300, ev.SupervisorAction(agent="deck", action="accept")),
            (300, ev.ArtifactReview(agent="deck", path="index.html", verdict="accepted")),
            (1820, ev.AgentFinished(agent="deck", outcome="done")),
            (3610, ev.AgentFinished(agent="charts", outcome="done")),
            (3611, ev.SessionEnded(status="done")),
        ],
    )


def adhoc() -> list[ev.Event]:
    """A critic killed by you after 6 minutes, and an agent skipped because of it."""
    return at(
        "b00000000002",
        DAY_TWO,
        [
            (0, ev.SessionStarted(name="adhoc", cwd="/w", version="1")),
            (1, ev.AgentQueued(agent="critic", role="critic", provider="anthropic", model="sonnet")),
            (1, ev.AgentQueued(agent="after", role="critic", provider="anthropic", model="sonnet", after=["critic"])),
            (4, ev.AgentStatusChanged(agent="critic", status="starting")),
            (5, sonnet("critic", input_tokens=100, output_tokens=10, cost_usd=0.002, simulated=True)),
            (300, ev.SupervisorAction(agent="critic", action="kill")),
            (364, ev.AgentFinished(agent="critic", outcome="killed")),
            (365, ev.AgentFinished(agent="after", outcome="skipped")),
            (366, ev.SessionEnded(status="failed")),
        ],
    )


@pytest.fixture
async def store(store_target: Path | str) -> AsyncIterator[Store]:
    async with await open_store(store_target) as opened:  # type: ignore[union-attr]
        await opened.import_events(nightly())
        await opened.import_events(adhoc())
        yield opened


def by_key(groups: list[Group]) -> dict[str, Group]:
    return {group.key: group for group in groups}


async def test_the_total_sets_spend_beside_outcomes(store: Store) -> None:
    total = (await compute_stats(store)).total
    assert total.tokens == {"input": 3600, "output": 360, "cache_read": 1000, "cache_write": 100, "reasoning": 80}
    assert total.cost_usd == pytest.approx(0.062) and total.unknown_price_tokens == 550 and total.simulated
    assert total.cache_hit_rate == pytest.approx(1000 / 3600)
    assert (total.accepted, total.rejected) == (2, 0)  # the latest verdict on loc.svg counts
    assert total.usd_per_accepted == pytest.approx(0.031)
    assert (total.interventions, total.watchdog_interventions) == (1, 1)  # accept is a review, not an intervention
    assert total.agent_hours == pytest.approx(1.0 + 0.5 + 0.1)
    assert total.interventions_per_agent_hour == pytest.approx(2 / 1.6)
    assert (total.finished, total.finished_unaided) == (3, 1)  # the skipped agent never ran
    assert total.unaided_share == pytest.approx(1 / 3)
    assert len(total.sessions) == 2 and len(total.agents) == 3  # agents with something counted


async def test_groups_by_role_model_plan_and_day(store: Store) -> None:
    stats = await compute_stats(store)
    roles = by_key(stats.by["role"])
    assert list(roles) == ["chart-builder", "critic", "deck-builder"]
    charts = roles["chart-builder"]
    assert (charts.tokens["input"], charts.unknown_price_tokens, charts.accepted) == (1500, 550, 1)
    assert (charts.watchdog_interventions, charts.agent_hours, charts.finished_unaided) == (1, pytest.approx(1.0), 0)
    assert roles["deck-builder"].unaided_share == 1.0 and roles["deck-builder"].usd_per_accepted == pytest.approx(0.05)
    models = by_key(stats.by["model"])
    assert models["anthropic/sonnet"].tokens["input"] == 1600 and models["openai/gpt"].tokens["reasoning"] == 80
    assert models["anthropic/sonnet"].interventions == 1 and models["openai/gpt"].simulated is False
    plans = by_key(stats.by["plan"])
    assert plans["nightly"].cost_usd == pytest.approx(0.06) and plans["adhoc"].finished == 1
    days = by_key(stats.by["day"])
    assert list(days) == ["2026-03-01", "2026-03-02"]
    assert days["2026-03-01"].tokens["input"] == 3500 and days["2026-03-02"].interventions == 1


async def test_since_drops_what_happened_before(store: Store) -> None:
    stats = await compute_stats(store, since=datetime(2026, 3, 2).timestamp())
    assert [g.key for g in stats.by["plan"]] == ["adhoc"]
    assert stats.total.tokens["input"] == 100 and stats.total.accepted == 0
    assert stats.total.agent_hours == pytest.approx(0.1) and stats.total.finished == 1
    halfway = await compute_stats(store, since=DAY_ONE + 1810)
    clipped = (3610 - 1810) + (1820 - 1810) + 360  # charts and deck ran before `since` too
    assert halfway.total.agent_hours == pytest.approx(clipped / 3600)


async def test_nothing_stored_gives_empty_groups(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "empty.db") as empty:
        stats = await compute_stats(empty)
    assert stats.total.sessions == set() and all(groups == [] for groups in stats.by.values())
    assert stats.total.cache_hit_rate is None and stats.total.unaided_share is None


async def test_json_names_every_figure(store: Store) -> None:
    data = (await compute_stats(store)).to_json()
    assert set(data) == {"since", "total", "by_role", "by_model", "by_plan", "by_day", "costliest_per_accepted"}
    assert data["total"]["interventions"] == {"user": 1, "watchdog": 1}
    assert data["total"]["tokens"]["cache_read"] == 1000 and data["by_day"][0]["key"] == "2026-03-01"


async def test_the_sums_read_the_kind_index_not_every_event(store: Store) -> None:
    if is_url(str(store.path)):
        pytest.skip("SQLite's query plans")
    from tokenmaxx.sessions import history_sql

    for sql in (history_sql.USAGE_SQL, history_sql.REVIEWS_SQL, history_sql.ACTIONS_SQL, history_sql.STARTS_SQL, history_sql.FINISHES_SQL):
        plan = " ".join(str(row[-1]) for row in await store.fetch_rows("EXPLAIN QUERY PLAN " + sql, (0.0,)))
        assert "SEARCH events USING INDEX events_by_kind (session_id=? AND kind=?)" in plan, sql


def crashed() -> list[ev.Event]:
    """An agent that worked 10 min, then its process died; resumed 2 h later, it worked 5 min more."""
    return at(
        "c00000000003",
        DAY_TWO,
        [
            (0, ev.SessionStarted(name="crashed", cwd="/w", version="1")),
            (1, ev.AgentQueued(agent="logs", role="log-analyst", provider="anthropic", model="sonnet")),
            (0, ev.AgentStatusChanged(agent="logs", status="starting")),
            (600, sonnet("logs", input_tokens=10, output_tokens=1, cost_usd=0.001)),
            (7800, ev.SessionResumed(version="1", agents=["logs"])),
            (8100, ev.AgentFinished(agent="logs", outcome="done")),
            (8100, ev.SessionEnded(status="done")),
        ],
    )


async def test_time_a_session_was_dead_counts_as_no_ones_work(tmp_path: Path) -> None:
    from tokenmaxx.sessions.export import to_markdown

    async with await Store.open(tmp_path / "crash.db") as opened:
        await opened.import_events(crashed())
        stats = await compute_stats(opened)
        summary = await opened.session("c00000000003")
    assert stats.total.agent_hours == pytest.approx(900 / 3600)
    assert summary.duration_s == pytest.approx(900)
    title = to_markdown(crashed()).split("\n\n")[1]
    assert "lasted 15 min 0 s · plus 2 h 0 min interrupted" in title
