"""What keeps the live path cheap for a large fleet: shared structure, a cheap copy, bounded snapshots."""

from __future__ import annotations

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import SNAPSHOT_STRETCH, EventLog
from tokenmaxx.sessions.state import (
    AgentState,
    FleetState,
    Tokens,
    _changed,
    initial_state,
    reduce,
    reduce_all,
)

AGENTS = [f"a{i:03d}" for i in range(200)]


def stamped(events: list[ev.Event], start_seq: int = 1) -> list[ev.Event]:
    return [e.model_copy(update={"session_id": "s", "seq": start_seq + i, "ts": 1000.0 + i}) for i, e in enumerate(events)]


def a_fleet() -> FleetState:
    queued: list[ev.Event] = [ev.AgentQueued(agent=a, role="r", provider="sim", model="m") for a in AGENTS]
    return reduce_all(stamped([ev.SessionStarted(name="n", cwd="/", version="v"), *queued]))


def test_changed_matches_model_copy_and_leaves_the_original_alone() -> None:
    agent = AgentState(name="a", tail=("x",), tokens=Tokens(input=3))
    for model, changes in (
        (agent, {"turn": 4, "tail": ("x", "y")}),
        (Tokens(input=1), {"output": 9}),
        (FleetState(name="n"), {"agents": {"a": agent}, "seq": 3}),
    ):
        before = model.model_dump_json()
        fast, slow = _changed(model, changes), model.model_copy(update=changes)
        assert fast == slow and type(fast) is type(slow)
        assert fast.model_fields_set == slow.model_fields_set
        assert fast.model_dump_json() == slow.model_dump_json()
        assert model.model_dump_json() == before


def test_changed_models_stay_frozen() -> None:
    copy = _changed(AgentState(name="a"), {"turn": 2})
    try:
        copy.turn = 3  # type: ignore[misc]
    except Exception as error:  # noqa: BLE001 - pydantic raises its ValidationError for frozen models
        assert "frozen" in str(error)
    else:
        raise AssertionError("a changed copy accepted an assignment")


def test_an_agent_event_makes_one_new_agent_and_shares_the_rest() -> None:
    fleet = a_fleet()
    after = reduce(fleet, ev.Text(agent="a007", text="hello", session_id="s", seq=fleet.seq + 1, ts=5000.0))
    changed = [name for name in AGENTS if after.agents[name] is not fleet.agents[name]]
    assert changed == ["a007"]
    assert after.tokens is fleet.tokens and after.burn is fleet.burn
    assert after.agents["a007"].partial_line == "hello" and fleet.agents["a007"].partial_line == ""


def test_usage_shares_the_untouched_agents_too() -> None:
    fleet = a_fleet()
    usage = ev.UsageReported(agent="a001", provider="sim", model="m", input_tokens=10, output_tokens=2, cost_usd=0.5)
    after = reduce(fleet, stamped([usage], fleet.seq + 1)[0])
    assert [n for n in AGENTS if after.agents[n] is not fleet.agents[n]] == ["a001"]
    assert after.tokens.total == 12 and after.cost_usd == 0.5 and fleet.tokens.total == 0


def one_of_each_kind() -> list[ev.Event]:
    return [
        ev.SessionStarted(name="n", cwd="/", version="v"),
        ev.SessionResumed(version="v", agents=["a"]),
        ev.PlanLoaded(path="p", agents=["a"]),
        ev.PlanRejected(path="p", error="e"),
        ev.AgentQueued(agent="a", role="r", provider="sim", model="m"),
        ev.AgentStatusChanged(agent="a", status="streaming"),
        ev.TurnStarted(agent="a", turn=1),
        ev.Text(agent="a", text="t\n"),
        ev.ToolCall(agent="a", call_id="c", tool="read_file", args={}),
        ev.ToolResult(agent="a", call_id="c", ok=True, output="o"),
        ev.ApprovalRequested(agent="a", call_id="d", tool="run_command", args={}),
        ev.ApprovalDecided(agent="a", call_id="d", approved=False),
        ev.UsageReported(agent="a", provider="sim", model="m", input_tokens=1),
        ev.ProviderError(agent="a", error_kind="server", message="m"),
        ev.AgentFlagged(agent="a", flag="stalled"),
        ev.SupervisorAction(agent="a", action="reprompt", text="go on"),
        ev.Artifact(agent="a", path="a/x.md", bytes=1, sha256="h"),
        ev.ArtifactReview(agent="a", path="a/x.md", verdict="accepted"),
        ev.AgentFinished(agent="a", outcome="done"),
        ev.SessionEnded(status="done"),
    ]


def test_every_kind_of_event_reduces() -> None:
    events = stamped(one_of_each_kind())
    assert {e.kind for e in events} == ev.KINDS
    state = reduce_all(events)
    assert state.seq == len(events) and state.accepted == 1 and state.agents["a"].outcome == "done"


class Sink:
    """An event sink that stamps like the store and keeps the snapshots it is handed."""

    def __init__(self, seq: int = 0) -> None:
        self.seq = seq
        self.snapshots: list[tuple[int, int]] = []  # (seq, bytes)

    def append(self, session_id: str, event: ev.Event) -> ev.Event:
        self.seq += 1
        return event.model_copy(update={"session_id": session_id, "seq": self.seq})

    def append_snapshot(self, session_id: str, seq: int, state_json: str) -> None:
        self.snapshots.append((seq, len(state_json)))


def test_a_small_state_is_snapshotted_every_snapshot_every_events() -> None:
    sink = Sink()
    log = EventLog(sink, "s", snapshot_every=20)
    for _ in range(65):
        log.emit(ev.Text(agent="a", text="x"))
    assert [seq for seq, _ in sink.snapshots] == [20, 40, 60]


def test_a_large_state_is_snapshotted_less_often_but_at_a_bounded_interval() -> None:
    fleet = a_fleet()
    sink = Sink(fleet.seq)
    log = EventLog(sink, "s", state=fleet, snapshot_every=10)
    for i in range(200):
        log.emit(ev.Text(agent=AGENTS[i % len(AGENTS)], text="x"))
    seqs = [seq - fleet.seq for seq, _ in sink.snapshots]
    gaps = {b - a for a, b in zip(seqs, seqs[1:])}
    assert seqs[0] == 10 and gaps == {10 * SNAPSHOT_STRETCH}


def test_subscribers_come_and_go_between_events() -> None:
    log = EventLog(Sink(), "s")
    heard: list[str] = []
    first = log.subscribe(lambda e, s: heard.append("first"))

    def second(event: ev.Event, state: FleetState) -> None:
        heard.append("second")
        first()

    log.subscribe(second)
    log.emit(ev.Text(agent="a", text="x"))
    log.emit(ev.Text(agent="a", text="y"))
    assert heard == ["first", "second", "second"]
    assert log.state.agents["a"].partial_line == "xy" and log.version == 2
    assert initial_state().agents == {}
