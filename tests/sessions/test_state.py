"""The reducer: every kind changes the state it should, and batching never changes the result."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import (
    TAIL_LINES,
    burn_rate,
    cost_per_accepted,
    initial_state,
    reduce,
    reduce_all,
    seconds_to_budget,
    sparkline_buckets,
    state_from_json,
    state_to_json,
)


def stamp(events: list[ev.Event], start: float = 1000.0) -> list[ev.Event]:
    return [e.model_copy(update={"session_id": "s1", "seq": i + 1, "ts": start + i * 0.5}) for i, e in enumerate(events)]


def a_session() -> list[ev.Event]:
    return stamp(
        [
            ev.SessionStarted(name="demo", plan="fleet.toml", cwd="/w", version="0.1"),
            ev.PlanLoaded(path="fleet.toml", agents=["charts", "deck"], budget_usd=2.0),
            ev.AgentQueued(agent="charts", role="chart-builder", provider="sim", model="m"),
            ev.AgentQueued(agent="deck", role="deck-builder", provider="sim", model="m", after=["charts"]),
            ev.AgentStatusChanged(agent="deck", status="waiting", reason="after charts"),
            ev.AgentStatusChanged(agent="charts", status="starting"),
            ev.TurnStarted(agent="charts", turn=1),
            ev.AgentStatusChanged(agent="charts", status="streaming"),
            ev.Text(agent="charts", text="Looking at the "),
            ev.Text(agent="charts", text="history.\nFound 12 commits"),
            ev.ToolCall(agent="charts", call_id="c1", tool="run_command", args={"command": "git log"}),
            ev.ApprovalRequested(agent="charts", call_id="c1", tool="run_command", args={"command": "git log"}),
            ev.ApprovalDecided(agent="charts", call_id="c1", approved=True),
            ev.ToolResult(agent="charts", call_id="c1", ok=True, output="...", duration_s=0.1),
            ev.UsageReported(
                agent="charts", provider="sim", model="m", input_tokens=1000, output_tokens=200,
                cache_read_tokens=600, cache_write_tokens=100, cost_usd=0.01, cache_saved_usd=0.002,
            ),
            ev.ProviderError(agent="charts", error_kind="rate_limit", message="slow down", retry_in_s=3),
            ev.AgentFlagged(agent="charts", flag="looping", detail="same call 3 times"),
            ev.SupervisorAction(agent="charts", action="reprompt", text="try another way"),
            ev.Artifact(agent="charts", path="charts/loc.svg", bytes=100, sha256="ab"),
            ev.ArtifactReview(agent="charts", path="charts/loc.svg", verdict="accepted"),
            ev.UsageReported(agent="deck", provider="x", model="unknown-model", input_tokens=50, output_tokens=5),
            ev.AgentFinished(agent="charts", outcome="done", summary="chart written"),
            ev.PlanRejected(path="fleet.toml", error="line 3: bad"),
            ev.SessionEnded(status="done"),
        ]
    )


def test_a_session_reduces_to_what_happened() -> None:
    state = reduce_all(a_session())
    charts, deck = state.agents["charts"], state.agents["deck"]
    assert (state.name, state.status, state.seq) == ("demo", "done", 24)
    assert charts.status == "done" and charts.outcome == "done" and charts.summary == "chart written"
    assert charts.tail == ("Looking at the history.",) and charts.partial_line == "Found 12 commits"
    assert charts.tokens.input == 1000 and charts.tokens.cache_read == 600 and charts.cost_usd == 0.01
    assert charts.flags == () and charts.interventions == 1 and charts.pending == ()
    assert charts.artifacts[0].verdict == "accepted" and state.accepted == 1
    assert deck.status == "waiting" and deck.after == ("charts",)
    assert deck.unknown_price_tokens == 55 and state.unknown_price_tokens == 55
    assert state.cost_usd == 0.01 and state.tokens.total == 1255 and state.cache_saved_usd == 0.002
    assert state.plan_error == "fleet.toml: line 3: bad"
    assert cost_per_accepted(state) == 0.01


def test_live_output_estimate_rises_while_streaming_and_settles_on_usage() -> None:
    events = stamp(
        [
            ev.AgentQueued(agent="a", role="r", provider="sim", model="m"),
            ev.Text(agent="a", text="x" * 40),
            ev.Text(agent="a", text="y" * 41),
        ]
    )
    streaming = reduce_all(events)
    assert streaming.agents["a"].live_output_estimate == 21
    assert streaming.agents["a"].shown_output_tokens == 21
    settled = reduce(streaming, ev.UsageReported(agent="a", provider="sim", model="m", input_tokens=9, output_tokens=19, cost_usd=0.0, seq=4, ts=2000))
    assert settled.agents["a"].live_output_estimate == 0
    assert settled.agents["a"].shown_output_tokens == 19


def test_stalled_clears_on_progress_but_over_budget_stays() -> None:
    events = stamp(
        [
            ev.AgentQueued(agent="a", role="r", provider="sim", model="m"),
            ev.AgentFlagged(agent="a", flag="stalled"),
            ev.AgentFlagged(agent="a", flag="over_budget"),
        ]
    )
    flagged = reduce_all(events)
    assert flagged.agents["a"].flags == ("stalled", "over_budget")
    assert [a.name for a in flagged.flagged()] == ["a"]
    moved = reduce(flagged, ev.Text(agent="a", text="hi", seq=4, ts=2000))
    assert moved.agents["a"].flags == ("over_budget",)


def test_tail_is_bounded() -> None:
    events = stamp([ev.Text(agent="a", text=f"line {i}\n") for i in range(TAIL_LINES * 3)])
    state = reduce_all(events)
    assert len(state.agents["a"].tail) == TAIL_LINES
    assert state.agents["a"].tail[-1] == f"line {TAIL_LINES * 3 - 1}"


def test_loop_iterations_keep_their_costs_apart() -> None:
    def usage(cost: float) -> ev.UsageReported:
        return ev.UsageReported(agent="a", provider="sim", model="m", input_tokens=1, output_tokens=1, cost_usd=cost)

    events = stamp(
        [
            ev.AgentStatusChanged(agent="a", status="starting", iteration=1),
            usage(0.5),
            ev.AgentStatusChanged(agent="a", status="starting", iteration=2),
            usage(0.25),
            ev.AgentStatusChanged(agent="a", status="starting", iteration=3),
        ]
    )
    agent = reduce_all(events).agents["a"]
    assert agent.iteration == 3 and agent.iteration_costs == (0.5, 0.25)


def test_burn_rate_projection_and_sparkline_use_the_given_clock() -> None:
    events = stamp(
        [
            ev.PlanLoaded(path="p", agents=[], budget_usd=10.0),
            *[ev.UsageReported(agent="a", provider="p", model="m", input_tokens=100, output_tokens=20, cost_usd=0.1) for _ in range(20)],
        ]
    )
    state = reduce_all(events)
    now = state.last_ts
    tokens_per_s, usd_per_hour = burn_rate(state, now)
    assert tokens_per_s == 2400 / 60 and round(usd_per_hour, 6) == round(2.0 / 60 * 3600, 6)
    assert round(seconds_to_budget(state, now) or 0, 3) == round(8.0 / usd_per_hour * 3600, 3)
    assert sum(sparkline_buckets(state, now)) == 2400
    assert burn_rate(state, now + 3600) == (0.0, 0.0)


def test_stop_all_remembers_who_was_running() -> None:
    events = stamp(
        [
            ev.AgentStatusChanged(agent="a", status="streaming"),
            ev.AgentStatusChanged(agent="b", status="paused"),
            ev.AgentFinished(agent="c", outcome="done"),
            ev.SupervisorAction(action="stop_all"),
        ]
    )
    state = reduce_all(events)
    assert state.stopped == ("a",) and state.interventions == 1


def test_snapshot_round_trip_is_exact() -> None:
    state = reduce_all(a_session())
    assert state_from_json(state_to_json(state)) == state


@st.composite
def event_streams(draw: st.DrawFn) -> list[ev.Event]:
    agents = ["a", "b", "c"]
    agent = st.sampled_from(agents)
    one = st.one_of(
        st.builds(lambda a: ev.AgentQueued(agent=a, role="r", provider="sim", model="m"), agent),
        st.builds(lambda a, s: ev.AgentStatusChanged(agent=a, status=s), agent, st.sampled_from(["starting", "streaming", "tool", "paused", "retrying"])),
        st.builds(lambda a, t: ev.Text(agent=a, text=t), agent, st.text(max_size=30)),
        st.builds(lambda a, i: ev.ToolCall(agent=a, call_id=f"c{i}", tool="read_file", args={"path": "x"}), agent, st.integers(0, 5)),
        st.builds(lambda a, i: ev.ToolResult(agent=a, call_id=f"c{i}", ok=True, output="o"), agent, st.integers(0, 5)),
        st.builds(
            lambda a, i, o, c: ev.UsageReported(agent=a, provider="p", model="m", input_tokens=i, output_tokens=o, cost_usd=c),
            agent, st.integers(0, 10_000), st.integers(0, 2_000), st.one_of(st.none(), st.floats(0, 1)),
        ),
        st.builds(lambda a, f: ev.AgentFlagged(agent=a, flag=f), agent, st.sampled_from(["stalled", "looping", "burning", "over_budget"])),
        st.builds(lambda a, x: ev.SupervisorAction(agent=a, action=x), agent, st.sampled_from(["kill", "reprompt", "accept", "stop_all", "resume_all"])),
        st.builds(lambda a: ev.Artifact(agent=a, path=f"{a}/out.md", bytes=3, sha256="h"), agent),
        st.builds(lambda a, v: ev.ArtifactReview(agent=a, path=f"{a}/out.md", verdict=v), agent, st.sampled_from(["accepted", "rejected"])),
        st.builds(lambda a, o: ev.AgentFinished(agent=a, outcome=o), agent, st.sampled_from(["done", "failed", "killed"])),
    )
    events = draw(st.lists(one, max_size=60))
    gaps = draw(st.lists(st.floats(0, 5), min_size=len(events), max_size=len(events)))
    ts = 1_000.0
    stamped = []
    for i, (event, gap) in enumerate(zip(events, gaps)):
        ts += gap
        stamped.append(event.model_copy(update={"session_id": "s", "seq": i + 1, "ts": ts}))
    return stamped


@settings(max_examples=150, deadline=None)
@given(event_streams(), st.lists(st.integers(1, 10), max_size=20))
def test_batching_and_snapshots_never_change_the_state(events: list[ev.Event], cuts: list[int]) -> None:
    one_by_one = initial_state()
    for event in events:
        one_by_one = reduce(one_by_one, event)
    state, start = initial_state(), 0
    for size in cuts + [len(events)]:
        batch = events[start : start + size]
        state = state_from_json(state_to_json(reduce_all(batch, state)))
        start += size
    assert state == one_by_one


def test_reduce_leaves_its_input_unchanged() -> None:
    before = reduce_all(a_session()[:10])
    frozen = state_to_json(before)
    reduce(before, ev.Text(agent="charts", text="more\n", seq=11, ts=5000))
    assert state_to_json(before) == frozen


def test_a_new_turn_starts_a_new_line_in_the_tail() -> None:
    events = [
        ev.AgentQueued(agent="a", role="r", provider="sim", model="m", after=[]),
        ev.TurnStarted(agent="a", turn=1),
        ev.Text(agent="a", text="Let me look once more."),
        ev.TurnStarted(agent="a", turn=2),
        ev.Text(agent="a", text="That settles it"),
    ]
    agent = reduce_all(stamp(events)).agents["a"]
    assert agent.tail == ("Let me look once more.",) and agent.partial_line == "That settles it"
    assert agent.lines == ("Let me look once more.", "That settles it")


def test_a_pause_shows_as_pausing_until_the_agent_reaches_a_safe_point() -> None:
    start = [
        ev.AgentQueued(agent="a", role="r", provider="sim", model="m", after=[]),
        ev.AgentQueued(agent="b", role="r", provider="sim", model="m", after=[]),
        ev.AgentStatusChanged(agent="a", status="streaming"),
        ev.AgentStatusChanged(agent="b", status="streaming"),
    ]
    asked = reduce_all(stamp([*start, ev.SupervisorAction(agent="a", action="pause")]))
    assert asked.agents["a"].pausing and not asked.agents["b"].pausing
    paused = reduce_all(stamp([ev.AgentStatusChanged(agent="a", status="paused")], start=2000), asked)
    assert not paused.agents["a"].pausing
    everyone = reduce_all(stamp([*start, ev.SupervisorAction(agent=None, action="stop_all")]))
    assert everyone.agents["a"].pausing and everyone.agents["b"].pausing
    resumed = reduce_all(stamp([ev.SupervisorAction(agent=None, action="resume_all")], start=2000), everyone)
    assert not any(a.pausing for a in resumed.agents.values())
    reprompted = reduce_all(stamp([ev.SupervisorAction(agent="a", action="reprompt", text="go on")], start=2000), asked)
    assert not reprompted.agents["a"].pausing  # a reprompt resumes a paused (or pausing) agent
