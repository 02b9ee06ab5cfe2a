"""Replay: the state after any seq equals the live reducer's, markers come from the kind index, live sessions grow.

`data/demo_session.jsonl` is a recorded demo session (`tokenmaxx demo --headless`, then
`tokenmaxx export`): five sim agents, a looping agent restarted and a stalled one reprompted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.export import read_jsonl
from tokenmaxx.sessions.log import EventLog
from tokenmaxx.sessions.replay import (
    GAP_STRETCH,
    SNAPSHOT_EVERY,
    Marker,
    Replay,
    marker_columns,
    next_marker,
)
from tokenmaxx.sessions.state import FleetState, reduce_all
from tokenmaxx.sessions.store import AmbiguousSession, SessionNotFound, Store, new_session_id
from tokenmaxx.sessions.store_api import SessionStore, StoreTarget, open_store
from tests.sessions.samples import every_kind

DEMO = Path(__file__).with_name("data") / "demo_session.jsonl"
BASE_TS = 1_790_000_000.0

agents = st.sampled_from(("charts", "deck", "logs"))
words = st.text(alphabet="ab \n`", max_size=24)
call_ids = st.sampled_from(("c1", "c2", "c3"))
paths = st.sampled_from(("out/a.md", "out/b.svg"))
money = st.none() | st.floats(min_value=0, max_value=2)
tokens = st.integers(min_value=0, max_value=5000)
any_event = st.one_of(
    st.builds(ev.SessionStarted, name=st.just("fleet"), cwd=st.just("/w"), version=st.just("1"), plan=st.none() | st.just("p.toml")),
    st.builds(ev.SessionEnded, status=st.sampled_from(("done", "failed", "stopped", "interrupted"))),
    st.builds(ev.SessionResumed, version=st.just("2"), agents=st.lists(agents, max_size=2)),
    st.builds(ev.PlanLoaded, path=st.just("p.toml"), agents=st.lists(agents, max_size=3), budget_usd=money),
    st.builds(ev.PlanRejected, path=st.just("p.toml"), error=words),
    st.builds(
        ev.AgentQueued,
        agent=agents,
        role=st.sampled_from(("critic", "deck-builder")),
        provider=st.just("sim"),
        model=st.sampled_from(("m1", "m2")),
        after=st.lists(agents, max_size=1),
        loop_times=st.integers(1, 3),
    ),
    st.builds(
        ev.AgentStatusChanged,
        agent=agents,
        status=st.sampled_from(get_args(ev.AgentStatus)),
        reason=words,
        iteration=st.none() | st.integers(1, 3),
    ),
    st.builds(ev.TurnStarted, agent=agents, turn=st.integers(1, 6)),
    st.builds(ev.Text, agent=agents, text=words),
    st.builds(ev.Text, agent=agents, text=words),
    st.builds(ev.ToolCall, agent=agents, call_id=call_ids, tool=st.just("read_file"), args=st.fixed_dictionaries({"path": words})),
    st.builds(ev.ToolResult, agent=agents, call_id=call_ids, ok=st.booleans(), output=words, duration_s=st.floats(0, 3)),
    st.builds(
        ev.ApprovalRequested, agent=agents, call_id=call_ids, tool=st.just("run_command"), args=st.fixed_dictionaries({"command": words})
    ),
    st.builds(ev.ApprovalDecided, agent=agents, call_id=call_ids, approved=st.booleans()),
    st.builds(
        ev.UsageReported,
        agent=agents,
        provider=st.just("sim"),
        model=st.sampled_from(("m1", "m2")),
        input_tokens=tokens,
        output_tokens=tokens,
        cache_read_tokens=tokens,
        cache_write_tokens=tokens,
        reasoning_tokens=tokens,
        cost_usd=money,
        cache_saved_usd=money,
        estimated=st.booleans(),
        simulated=st.booleans(),
    ),
    st.builds(ev.ProviderError, agent=agents, error_kind=st.sampled_from(get_args(ev.ErrorKind)), message=words, retry_in_s=money),
    st.builds(ev.AgentFlagged, agent=agents, flag=st.sampled_from(get_args(ev.Flag)), detail=words),
    st.builds(ev.SupervisorAction, agent=st.none() | agents, action=st.sampled_from(get_args(ev.Action)), text=words),
    st.builds(ev.Artifact, agent=agents, path=paths, bytes=st.integers(0, 9999), sha256=st.just("ab" * 32)),
    st.builds(ev.ArtifactReview, agent=agents, path=paths, verdict=st.sampled_from(("accepted", "rejected")), note=words),
    st.builds(ev.AgentFinished, agent=agents, outcome=st.sampled_from(get_args(ev.Outcome)), summary=words),
)
timed_events = st.lists(st.tuples(any_event, st.floats(min_value=0, max_value=900)), min_size=1, max_size=60)


def with_clock(drawn: list[tuple[ev.Event, float]]) -> list[ev.Event]:
    """The events at increasing times, `gap` seconds apart."""
    clock, timed = BASE_TS, []
    for event, gap in drawn:
        clock += gap
        timed.append(event.model_copy(update={"ts": clock}))
    return timed


async def record(store: SessionStore, events: list[ev.Event], snapshot_every: int) -> tuple[str, list[FleetState]]:
    """Emit `events` through the live path; returns the session id and the live state after each event."""
    log = EventLog(store, new_session_id(), snapshot_every=snapshot_every)
    live = [log.state]
    log.subscribe(lambda event, state: live.append(state))
    for event in events:
        log.emit(event)
    await store.flush()
    return log.session_id, live


async def assert_every_seq_matches(replay: Replay, live: list[FleetState], seeks: list[int]) -> None:
    """Forward through every seq, then the given seeks in their order, against the reducer over the stored events."""
    stored = await replay.events_between(1, replay.last_seq)
    for seq in [*range(len(live)), *seeks]:
        replayed = await replay.state_at(seq)
        assert replayed == live[seq] == reduce_all(stored[:seq]), f"state after seq {seq}"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(drawn=timed_events, seek_fractions=st.lists(st.floats(0, 1), max_size=12))
def test_any_seek_equals_the_live_reducer_across_snapshots(
    store_target: StoreTarget, drawn: list[tuple[ev.Event, float]], seek_fractions: list[float]
) -> None:
    events = with_clock(drawn)
    seeks = [round(f * len(events)) for f in seek_fractions]

    async def check() -> None:
        async with await open_store(store_target) as store:  # each example records a session of its own
            session_id, live = await record(store, events, snapshot_every=7)
            replay = await Replay.open(store, session_id)
            assert len(live) == replay.last_seq + 1 == len(events) + 1
            await assert_every_seq_matches(replay, live, seeks)

    asyncio.run(check())


@pytest.fixture
async def store(store_target: StoreTarget) -> AsyncIterator[SessionStore]:
    async with await open_store(store_target) as opened:
        yield opened


def demo_events() -> list[ev.Event]:
    return [e.model_copy(update={"session_id": "", "seq": 0}) for e in read_jsonl(DEMO)]


async def test_a_recorded_demo_replays_exactly_at_every_seq(store: SessionStore) -> None:
    session_id, live = await record(store, demo_events(), snapshot_every=7)
    replay = await Replay.open(store, session_id)
    assert replay.last_seq == 176 and len(replay._snapshot_seqs) >= 176 // (7 * GAP_STRETCH)
    await assert_every_seq_matches(replay, live, [170, 3, 99, 98, 0, 176, 42])
    final = await replay.state_at(replay.last_seq)
    assert final.status == "done" and {a.outcome for a in final.agents.values()} == {"done"}


async def test_an_imported_session_gets_snapshots_once_and_still_replays_exactly(store: SessionStore) -> None:
    imported = read_jsonl(DEMO)
    session_id = await store.import_events(imported)
    replay = await Replay.open(store, session_id)
    assert not replay.needs_snapshots  # 176 events: one stretch is cheap enough
    assert await replay.ensure_snapshots(every=25) == 7  # 176 > 25 * GAP_STRETCH
    assert replay._snapshot_seqs == [25, 50, 75, 100, 125, 150, 175]
    assert await replay.ensure_snapshots(every=25) == 0
    again = await Replay.open(store, session_id)
    live = [reduce_all(imported[:n]) for n in range(len(imported) + 1)]
    await assert_every_seq_matches(again, live, [174, 26, 24, 1])


async def test_a_long_session_without_snapshots_needs_them_until_built(store: SessionStore) -> None:
    session_id = new_session_id()
    count = SNAPSHOT_EVERY * GAP_STRETCH + 500
    events = [ev.Text(agent="a", text=f"line {i}\n", ts=BASE_TS + i) for i in range(count)]
    await store.import_events([e.model_copy(update={"session_id": session_id, "seq": i}) for i, e in enumerate(events, 1)])
    replay = await Replay.open(store, session_id)
    assert replay.needs_snapshots
    progress: list[tuple[int, int]] = []
    assert await replay.ensure_snapshots(progress=lambda done, total: progress.append((done, total))) == GAP_STRETCH
    assert not replay.needs_snapshots and progress[-1] == (GAP_STRETCH * SNAPSHOT_EVERY, count)
    target = 2 * SNAPSHOT_EVERY + 3
    state = await (await Replay.open(store, session_id)).state_at(target)
    assert state.seq == target and state.agents["a"].tail[-1] == f"line {target - 1}"


async def test_seeks_clamp_to_the_session(store: SessionStore) -> None:
    session_id, live = await record(store, demo_events()[:20], snapshot_every=7)
    replay = await Replay.open(store, session_id)
    assert await replay.state_at(-5) == FleetState()
    assert await replay.state_at(10_000) == live[-1]


async def test_sessions_open_by_unique_prefix_only(store: SessionStore) -> None:
    store.append("abc111111111", ev.Text(agent="a", text="x"))
    store.append("abc222222222", ev.Text(agent="a", text="y"))
    await store.flush()
    assert (await Replay.open(store, "abc2")).session_id == "abc222222222"
    with pytest.raises(AmbiguousSession):
        await Replay.open(store, "abc")
    with pytest.raises(SessionNotFound):
        await Replay.open(store, "fff")


def stamped_every_kind(session_id: str) -> list[ev.Event]:
    return [e.model_copy(update={"session_id": session_id, "seq": i, "ts": BASE_TS + i}) for i, e in enumerate(every_kind(), 1)]


async def test_markers_are_flags_interventions_artifacts_and_errors(store: SessionStore) -> None:
    session_id = await store.import_events(
        [
            *stamped_every_kind("feed00000001"),
            ev.SupervisorAction(session_id="feed00000001", seq=21, ts=BASE_TS + 21, agent="charts", action="reject", text="no"),
            ev.AgentFinished(session_id="feed00000001", seq=22, ts=BASE_TS + 22, agent="charts", outcome="failed", summary="gave up"),
        ]
    )
    markers = await (await Replay.open(store, session_id)).markers()
    assert [(m.seq, m.kind, m.agent, m.label) for m in markers] == [
        (3, "error", None, "plan rejected: line 3: agents.deck.model: field required"),
        (14, "error", "charts", "charts rate_limit: 429 slow down"),
        (15, "flag", "charts", "charts looping: run_command repeated 4 times"),
        (16, "intervention", None, "watchdog reprompt fleet: Use the other repo."),
        (17, "artifact", "charts", "charts wrote out/chart.html"),
        (18, "artifact", "charts", "charts out/chart.html rejected"),
        (22, "error", "charts", "charts failed: gave up"),
    ]
    assert markers[0].ts == BASE_TS + 3


async def test_markers_read_only_the_kind_index(tmp_path: Path) -> None:
    from tokenmaxx.sessions.history_sql import markers_sql
    from tokenmaxx.sessions.replay import MARKER_EVENT_KINDS

    async with await Store.open(tmp_path / "sessions.db") as store:  # the plan is SQLite's own
        store.append("s1", ev.Text(agent="a", text="x"))
        await store.flush()
        rows = await store.fetch_rows("EXPLAIN QUERY PLAN " + markers_sql(MARKER_EVENT_KINDS), ("s1", 0))
    plan = " ".join(str(row[-1]) for row in rows)
    assert "USING INDEX events_by_kind (session_id=? AND kind=? AND seq>?)" in plan and "SCAN" not in plan


async def test_a_running_session_grows_under_refresh(store_target: StoreTarget) -> None:
    async with await open_store(store_target) as writer, await open_store(store_target) as reader:
        log = EventLog(writer, new_session_id(), snapshot_every=5)
        for event in demo_events()[:40]:
            log.emit(event)
        await writer.flush()
        replay = await Replay.open(reader, log.session_id)
        assert replay.live and replay.last_seq == 40 and await replay.refresh() is False
        before = await replay.markers()
        for event in demo_events()[40:]:
            log.emit(event)
        await writer.flush()
        assert await replay.refresh() is True
        assert replay.last_seq == 176 and not replay.live  # the demo ends with session_ended
        assert len(await replay.markers()) > len(before) and (await replay.markers())[: len(before)] == before
        stored = await reader.snapshot_seqs(log.session_id, 0)
        assert replay._snapshot_seqs == stored and replay._snapshot_seqs[-1] > 40
        assert await replay.state_at(176) == log.state


async def test_events_timestamps_and_tails_by_seq_and_agent(store: SessionStore) -> None:
    session_id = await store.import_events(stamped_every_kind("feed00000002"))
    replay = await Replay.open(store, session_id)
    assert [e.seq for e in await replay.events_between(3, 6)] == [3, 4, 5, 6]
    assert await replay.events_between(6, 3) == []
    assert [e.seq for e in await replay.events_between(1, 21, agent="charts")][:3] == [5, 6, 7]
    assert await replay.timestamps(2, 4) == [BASE_TS + 2, BASE_TS + 3, BASE_TS + 4]
    tail = await replay.events_before(12, 3, agent="charts")
    assert [e.seq for e in tail] == [10, 11, 12] and all(getattr(e, "agent") == "charts" for e in tail)
    assert [e.seq for e in await replay.events_before(2, 10)] == [1, 2]


def marker(seq: int, kind: str) -> Marker:
    return Marker(seq=seq, ts=BASE_TS + seq, kind=kind, agent=None, label=kind)  # type: ignore[arg-type]


def test_timeline_columns_show_the_most_pressing_marker() -> None:
    markers = [marker(1, "artifact"), marker(2, "error"), marker(45, "flag"), marker(48, "intervention"), marker(100, "artifact")]
    columns = marker_columns(markers, last_seq=100, width=10)
    assert columns == ["error", None, None, None, "intervention", None, None, None, None, "artifact"]
    assert marker_columns(markers, last_seq=100, width=0) == []
    assert marker_columns([], last_seq=0, width=3) == [None, None, None]


def test_next_and_previous_marker() -> None:
    markers = [marker(10, "flag"), marker(20, "error"), marker(30, "artifact")]
    assert next_marker(markers, 10) == markers[1]
    assert next_marker(markers, 9) == markers[0]
    assert next_marker(markers, 30) is None
    assert next_marker(markers, 20, direction=-1) == markers[0]
    assert next_marker(markers, 31, direction=-1) == markers[2]
    assert next_marker(markers, 10, direction=-1) is None


async def test_a_store_that_cannot_write_the_snapshots_leaves_them_to_later(store_target: StoreTarget) -> None:
    async with await open_store(store_target) as early:
        async with await open_store(store_target) as other:
            session_id = new_session_id()
            events = [ev.Text(agent="a", text=f"{i}\n", ts=BASE_TS + i) for i in range(SNAPSHOT_EVERY * GAP_STRETCH + 10)]
            await other.import_events([e.model_copy(update={"session_id": session_id, "seq": i}) for i, e in enumerate(events, 1)])
        replay = await Replay.open(early, session_id)  # `early` opened before the session existed
        assert await replay.ensure_snapshots() == 0 and replay.needs_snapshots
        assert (await replay.state_at(len(events))).seq == len(events)


async def test_concurrent_marker_reads_list_each_marker_once(store: SessionStore) -> None:
    session_id = await store.import_events(stamped_every_kind("feed00000003"))
    replay = await Replay.open(store, session_id)
    first, second = await asyncio.gather(replay.markers(), replay.markers())
    assert first == second == await replay.markers() and len({m.seq for m in first}) == len(first) == 6
