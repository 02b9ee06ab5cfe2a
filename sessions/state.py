"""The fleet's state, rebuilt from events by one pure function: `reduce(state, event)`.

The same reducer serves the live screen, replay and the headless summary. It reads no
clock: time comes from the events' `ts`, and the figures that depend on "now" (burn rate,
elapsed time, projection) are functions of a state and a `now` the caller passes in.
States are immutable; `reduce` returns a new state sharing what did not change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, TypeVar, assert_never

from pydantic import BaseModel, ConfigDict

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.events import AgentStatus, Event, Flag, Outcome, Verdict

TAIL_LINES = 40
TAIL_LINE_CHARS = 400
BURN_WINDOW_S = 600
CHARS_PER_TOKEN = 4
INTERVENTIONS = frozenset({"kill", "pause", "reprompt", "restart", "approve", "deny", "stop_all"})
_STICKY_FLAGS: frozenset[str] = frozenset({"over_budget"})
_PROGRESS_CLEARS = frozenset({"stalled"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


_M = TypeVar("_M", bound=_Frozen)
_set = object.__setattr__


def _changed(model: _M, changes: dict[str, object]) -> _M:
    """`model.model_copy(update=changes)` without the generic copying, for models with no extra or private fields."""
    new = model.__class__.__new__(model.__class__)
    _set(new, "__dict__", {**model.__dict__, **changes})
    _set(new, "__pydantic_fields_set__", model.__pydantic_fields_set__.union(changes))
    _set(new, "__pydantic_extra__", None)
    _set(new, "__pydantic_private__", None)
    return new


class Tokens(_Frozen):
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output

    @property
    def cache_hit_rate(self) -> float | None:
        return self.cache_read / self.input if self.input else None

    def plus(self, usage: ev.UsageReported) -> Tokens:
        return _changed(
            self,
            {
                "input": self.input + usage.input_tokens,
                "output": self.output + usage.output_tokens,
                "cache_read": self.cache_read + usage.cache_read_tokens,
                "cache_write": self.cache_write + usage.cache_write_tokens,
                "reasoning": self.reasoning + usage.reasoning_tokens,
            },
        )


class ArtifactInfo(_Frozen):
    path: str
    bytes: int
    sha256: str
    ts: float
    verdict: Verdict | None = None
    note: str = ""
    diff: ev.DiffSummary | None = None  # set for a coding agent's worktree diff


class PendingApproval(_Frozen):
    call_id: str
    tool: str
    args: dict[str, object]
    ts: float


class AgentState(_Frozen):
    name: str
    role: str = ""
    provider: str = ""
    model: str = ""
    task: str = ""
    after: tuple[str, ...] = ()
    status: AgentStatus = "queued"
    reason: str = ""
    flags: tuple[Flag, ...] = ()
    queued_at: float = 0.0
    started_at: float | None = None
    ended_at: float | None = None
    last_event_ts: float = 0.0
    turn: int = 0
    iteration: int = 1
    loop_times: int = 1
    loop_until_usd: float | None = None
    tail: tuple[str, ...] = ()
    partial_line: str = ""
    current_tool: str | None = None
    tool_calls: int = 0
    pending: tuple[PendingApproval, ...] = ()
    tokens: Tokens = Tokens()
    cost_usd: float = 0.0
    unknown_price_tokens: int = 0
    estimated_tokens: int = 0
    cache_saved_usd: float = 0.0
    simulated: bool = False
    live_chars: int = 0
    iteration_costs: tuple[float, ...] = ()
    artifacts: tuple[ArtifactInfo, ...] = ()
    interventions: int = 0
    rework: int = 0  # diffs rejected with a note that went back to the agent
    last_error: str = ""
    retry_at: float | None = None
    outcome: Outcome | None = None
    summary: str = ""
    change_on_restart: bool = False  # its plan entry changed after it started; the change applies at its next fresh start
    removed_from_plan: bool = False
    pausing: bool = False  # asked to pause; it stops at its next safe point (after the reply or tool in progress)
    queued_reprompt: str = ""  # a message waiting for its next safe point, sent by the supervisor once it gets there

    @property
    def costs_by_iteration(self) -> tuple[float, ...]:
        """What each loop iteration cost, the one running (or last) included."""
        return (*self.iteration_costs, self.cost_usd - sum(self.iteration_costs))

    @property
    def withdrawn(self) -> bool:
        """Removed from the plan before it started, so it never ran."""
        return self.removed_from_plan and self.outcome == "skipped"

    @property
    def live_output_estimate(self) -> int:
        """Output tokens of the reply in flight, estimated until its usage arrives."""
        return -(-self.live_chars // CHARS_PER_TOKEN)

    @property
    def shown_output_tokens(self) -> int:
        return self.tokens.output + self.live_output_estimate

    @property
    def finished(self) -> bool:
        return self.status in ev.FINISHED_STATUSES

    @property
    def lines(self) -> tuple[str, ...]:
        """The output tail including the line still being written."""
        return self.tail + (self.partial_line,) if self.partial_line else self.tail

    def elapsed(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        return max(0.0, (self.ended_at or now) - self.started_at)


class FleetState(_Frozen):
    session_id: str = ""
    name: str = ""
    plan: str | None = None
    cwd: str = ""
    version: str = ""
    prices: str | None = None
    status: ev.SessionStatus | Literal["new"] = "new"
    started_at: float | None = None
    ended_at: float | None = None
    last_ts: float = 0.0
    seq: int = 0
    agents: dict[str, AgentState] = {}
    tokens: Tokens = Tokens()
    cost_usd: float = 0.0
    unknown_price_tokens: int = 0
    cache_saved_usd: float = 0.0
    simulated: bool = False
    budget_usd: float | None = None
    budget_tokens: int | None = None
    burn: tuple[tuple[int, int, float], ...] = ()  # (second, tokens, usd) buckets
    accepted: int = 0
    rejected: int = 0
    rework: int = 0
    lines_accepted: int = 0  # lines added and removed by the accepted diffs
    interventions: int = 0
    plan_error: str | None = None
    stopped: tuple[str, ...] = ()  # agents paused by stop_all, for resume_all

    @property
    def live_output_estimate(self) -> int:
        return sum(a.live_output_estimate for a in self.agents.values())

    def count_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for agent in self.agents.values():
            counts[agent.status] = counts.get(agent.status, 0) + 1
        return counts

    def flagged(self) -> list[AgentState]:
        return [a for a in self.agents.values() if a.flags and not a.finished]


def initial_state() -> FleetState:
    return FleetState()


def reduce(state: FleetState, event: Event) -> FleetState:
    """The state after `event`; `state` itself is left unchanged."""
    update = _fleet_changes(state, event)
    if event.seq > state.seq:
        update["seq"] = event.seq
    if event.ts > state.last_ts:
        update["last_ts"] = event.ts
    return _changed(state, update)


def reduce_all(events: Iterable[Event], state: FleetState | None = None) -> FleetState:
    state = state or initial_state()
    for event in events:
        state = reduce(state, event)
    return state


def state_to_json(state: FleetState) -> str:
    return state.model_dump_json()


def state_from_json(text: str | bytes) -> FleetState:
    return FleetState.model_validate_json(text)


Changes = dict[str, object]


def _fleet_changes(state: FleetState, event: Event) -> Changes:  # noqa: C901 - one arm per kind
    """What `event` changes in the fleet's fields; the arms go from the most frequent kind down."""
    match event:
        case ev.Text() | ev.ToolCall() | ev.ToolResult() | ev.AgentStatusChanged() | ev.TurnStarted():
            return _agent_event(state, event)
        case ev.UsageReported():
            return _usage(state, event)
        case (
            ev.ApprovalRequested()
            | ev.ApprovalDecided()
            | ev.ProviderError()
            | ev.AgentFlagged()
            | ev.Artifact()
            | ev.AgentFinished()
        ):
            return _agent_event(state, event)
        case ev.ArtifactReview():
            return _count_reviews(_agent_event(state, event))
        case ev.SupervisorAction():
            return _supervisor_action(state, event)
        case ev.AgentQueued():
            return _put(state, _queued(state.agents.get(event.agent), event))
        case ev.SessionStarted():
            return {
                "session_id": event.session_id,
                "name": event.name,
                "plan": event.plan,
                "cwd": event.cwd,
                "version": event.version,
                "prices": event.prices,
                "status": "running",
                "started_at": event.ts,
                "ended_at": None,
            }
        case ev.SessionEnded():
            return {"status": event.status, "ended_at": event.ts}
        case ev.SessionResumed():
            return {"status": "running", "ended_at": None}
        case ev.PlanLoaded():
            reloaded = _reloaded(state, event) if event.reload else {}
            return {**reloaded, "plan_error": None, "budget_usd": event.budget_usd, "budget_tokens": event.budget_tokens}
        case ev.PlanRejected():
            return {"plan_error": f"{event.path}: {event.error}"}
        case _:
            assert_never(event)


def _reloaded(state: FleetState, event: ev.PlanLoaded) -> Changes:
    """Mark the agents whose plan entry waits for a fresh start, and those no longer in the plan."""
    planned, pending = set(event.agents), set(event.changed_on_restart)
    marks = {name: {"change_on_restart": name in pending, "removed_from_plan": name not in planned} for name in state.agents}
    return {"agents": {name: _changed(agent, marks[name]) for name, agent in state.agents.items()}}


def _put(state: FleetState, agent: AgentState) -> Changes:
    return {"agents": {**state.agents, agent.name: agent}}


def _queued(previous: AgentState | None, event: ev.AgentQueued) -> AgentState:
    spec = {
        "role": event.role,
        "provider": event.provider,
        "model": event.model,
        "task": event.task,
        "after": tuple(event.after),
        "loop_times": event.loop_times,
        "loop_until_usd": event.loop_until_usd,
        "last_event_ts": event.ts,
        "change_on_restart": False,
        "removed_from_plan": False,
    }
    if previous is None:
        return AgentState(name=event.agent, queued_at=event.ts, **spec)
    return _changed(previous, spec)


def _agent_of(state: FleetState, name: str, ts: float) -> AgentState:
    return state.agents.get(name) or AgentState(name=name, queued_at=ts)


def _agent_event(state: FleetState, event: Event) -> Changes:
    name: str = getattr(event, "agent")
    agent = _agent_of(state, name, event.ts)
    changes = _agent_changes(agent, event)
    if type(event) is not ev.AgentFlagged:
        _clear_progress_flags(agent, changes)
    if event.ts > agent.last_event_ts:
        changes["last_event_ts"] = event.ts
    return _put(state, _changed(agent, changes))


def _agent_changes(agent: AgentState, event: Event) -> Changes:  # noqa: C901 - one arm per kind
    match event:
        case ev.Text():
            return _text(agent, event.text)
        case ev.ToolCall():
            return {"current_tool": event.tool, "tool_calls": agent.tool_calls + 1}
        case ev.ToolResult():
            return {"current_tool": None}
        case ev.AgentStatusChanged():
            return _status(agent, event)
        case ev.TurnStarted():
            return {"turn": event.turn, "retry_at": None, **_end_line(agent)}
        case ev.ApprovalRequested():
            pending = PendingApproval(call_id=event.call_id, tool=event.tool, args=event.args, ts=event.ts)
            return {"pending": (*agent.pending, pending)}
        case ev.ApprovalDecided():
            return {"pending": tuple(p for p in agent.pending if p.call_id != event.call_id)}
        case ev.ProviderError():
            retry_at = event.ts + event.retry_in_s if event.retry_in_s is not None else None
            return {"last_error": f"{event.error_kind}: {event.message}", "retry_at": retry_at}
        case ev.AgentFlagged():
            return {"flags": agent.flags if event.flag in agent.flags else (*agent.flags, event.flag)}
        case ev.Artifact():
            return _artifact(agent, event)
        case ev.ArtifactReview():
            return _review(agent, event)
        case ev.AgentFinished():
            return _finished(agent, event)
        case _:
            return {}


def _status(agent: AgentState, event: ev.AgentStatusChanged) -> Changes:
    update: Changes = {"status": event.status, "reason": event.reason}
    if agent.pausing and (event.status == "paused" or event.status in ev.FINISHED_STATUSES):
        update["pausing"] = False
    if event.status not in ("retrying",):
        update["retry_at"] = None
    if event.status in ("starting", "streaming") and agent.started_at is None:
        update["started_at"] = event.ts
    if event.status not in ev.FINISHED_STATUSES and agent.finished:
        update.update(outcome=None, summary="", ended_at=None)
    if event.iteration is not None and event.iteration != agent.iteration:
        update["iteration"] = event.iteration
        update["iteration_costs"] = (*agent.iteration_costs, _iteration_cost(agent))
    if event.status in ("queued", "waiting", "paused") or event.status in ev.FINISHED_STATUSES:
        update["current_tool"] = None
    return update


def _iteration_cost(agent: AgentState) -> float:
    return agent.cost_usd - sum(agent.iteration_costs)


def _text(agent: AgentState, text: str) -> Changes:
    update: Changes = {"live_chars": agent.live_chars + len(text)}
    if "\n" not in text:
        partial = agent.partial_line + text
        update["partial_line"] = partial if len(partial) <= TAIL_LINE_CHARS else partial[-TAIL_LINE_CHARS:]
        return update
    pieces = (agent.partial_line + text).split("\n")
    done = tuple(line[:TAIL_LINE_CHARS] for line in pieces[:-1])
    update["tail"] = (agent.tail + done)[-TAIL_LINES:]
    update["partial_line"] = pieces[-1][-TAIL_LINE_CHARS:]
    return update


def _end_line(agent: AgentState) -> Changes:
    """A new turn starts a new line: the last turn's unfinished line joins the tail instead of running on."""
    if not agent.partial_line:
        return {}
    return {"tail": (*agent.tail, agent.partial_line)[-TAIL_LINES:], "partial_line": ""}


def _artifact(agent: AgentState, event: ev.Artifact) -> Changes:
    info = ArtifactInfo(path=event.path, bytes=event.bytes, sha256=event.sha256, ts=event.ts, diff=event.diff)
    kept = tuple(a for a in agent.artifacts if a.path != event.path)
    return {"artifacts": (*kept, info)}


def _review(agent: AgentState, event: ev.ArtifactReview) -> Changes:
    artifacts = tuple(
        _changed(a, {"verdict": event.verdict, "note": event.note}) if a.path == event.path else a
        for a in agent.artifacts
    )
    if all(a.path != event.path for a in agent.artifacts):
        artifacts += (ArtifactInfo(path=event.path, bytes=0, sha256="", ts=event.ts, verdict=event.verdict, note=event.note),)
    reworked = event.verdict == "rejected" and bool(event.note) and any(a.path == event.path and a.diff for a in artifacts)
    return {"artifacts": artifacts, "rework": agent.rework + reworked}


def _finished(agent: AgentState, event: ev.AgentFinished) -> Changes:
    return {
        "status": event.outcome,
        "outcome": event.outcome,
        "summary": event.summary,
        "ended_at": event.ts,
        "current_tool": None,
        "pending": (),
        "live_chars": 0,
        "flags": tuple(f for f in agent.flags if f in _STICKY_FLAGS),
    }


def _clear_progress_flags(agent: AgentState, changes: Changes) -> None:
    """Drop the flags that progress clears (stalled) from the agent's flags after `changes`."""
    flags: tuple[str, ...] = changes.get("flags", agent.flags)  # type: ignore[assignment]
    if flags:
        kept = tuple(f for f in flags if f not in _PROGRESS_CLEARS)
        if kept != flags:
            changes["flags"] = kept


def _usage(state: FleetState, event: ev.UsageReported) -> Changes:
    known = event.cost_usd is not None
    unknown = 0 if known else event.input_tokens + event.output_tokens
    cost = event.cost_usd or 0.0
    saved = event.cache_saved_usd or 0.0
    estimated = event.input_tokens + event.output_tokens if event.estimated else 0
    agent = _agent_of(state, event.agent, event.ts)
    changes: Changes = {
        "tokens": agent.tokens.plus(event),
        "cost_usd": agent.cost_usd + cost,
        "unknown_price_tokens": agent.unknown_price_tokens + unknown,
        "estimated_tokens": agent.estimated_tokens + estimated,
        "cache_saved_usd": agent.cache_saved_usd + saved,
        "simulated": agent.simulated or event.simulated,
        "live_chars": 0,
        "last_event_ts": max(agent.last_event_ts, event.ts),
    }
    _clear_progress_flags(agent, changes)
    return {
        **_put(state, _changed(agent, changes)),
        "tokens": state.tokens.plus(event),
        "cost_usd": state.cost_usd + cost,
        "unknown_price_tokens": state.unknown_price_tokens + unknown,
        "cache_saved_usd": state.cache_saved_usd + saved,
        "simulated": state.simulated or event.simulated,
        "burn": _burned(state.burn, event.ts, event.input_tokens + event.output_tokens, cost),
    }


def _burned(burn: tuple[tuple[int, int, float], ...], ts: float, tokens: int, usd: float) -> tuple[tuple[int, int, float], ...]:
    second = int(ts)
    if burn and burn[-1][0] >= second:
        last = burn[-1]
        return (*burn[:-1], (last[0], last[1] + tokens, last[2] + usd))
    horizon = second - BURN_WINDOW_S
    kept = burn if not burn or burn[0][0] > horizon else tuple(b for b in burn if b[0] > horizon)
    return (*kept, (second, tokens, usd))


def _count_reviews(changes: Changes) -> Changes:
    agents: dict[str, AgentState] = changes["agents"]  # type: ignore[assignment]
    verdicts = [a.verdict for agent in agents.values() for a in agent.artifacts]
    lines = sum(a.diff.added + a.diff.removed for agent in agents.values() for a in agent.artifacts if a.diff and a.verdict == "accepted")
    rework = sum(agent.rework for agent in agents.values())
    return {
        **changes,
        "accepted": verdicts.count("accepted"),
        "rejected": verdicts.count("rejected"),
        "rework": rework,
        "lines_accepted": lines,
    }


def _supervisor_action(state: FleetState, event: ev.SupervisorAction) -> Changes:
    counted = event.action in INTERVENTIONS
    update: Changes = {"interventions": state.interventions + counted}
    if event.action == "stop_all":
        update["stopped"] = tuple(a.name for a in state.agents.values() if not a.finished and a.status != "paused")
        agents = dict(state.agents)
        for name in update["stopped"]:
            agents[name] = _changed(agents[name], {"pausing": True})
        update["agents"] = agents
    elif event.action == "resume_all":
        update["stopped"] = ()
        update["agents"] = {n: _changed(a, {"pausing": False}) if a.pausing else a for n, a in state.agents.items()}
    if event.agent is None or event.agent not in state.agents:
        return update
    agent = state.agents[event.agent]
    changes: Changes = {"interventions": agent.interventions + counted}
    if event.action in ("restart", "reprompt", "kill", "resume"):
        changes["flags"] = tuple(f for f in agent.flags if f in _STICKY_FLAGS)
    if event.action == "pause" and agent.status != "paused" and not agent.finished:
        changes["pausing"] = True
    elif event.action in ("resume", "restart", "kill", "reprompt"):  # a reprompt resumes a paused agent
        changes["pausing"] = False
    if event.action == "queue_reprompt":
        changes["queued_reprompt"] = event.text
    elif event.action in ("drop_reprompt", "reprompt", "restart", "kill") and agent.queued_reprompt:
        changes["queued_reprompt"] = ""
    return {**update, **_put(state, _changed(agent, changes))}


def burn_rate(state: FleetState, now: float, window_s: float = 60.0) -> tuple[float, float]:
    """Tokens per second and dollars per hour over the last `window_s` seconds before `now`."""
    since = now - window_s
    tokens = sum(b[1] for b in state.burn if since < b[0] <= now)
    usd = sum(b[2] for b in state.burn if since < b[0] <= now)
    return tokens / window_s, usd / window_s * 3600


def sparkline_buckets(state: FleetState, now: float, buckets: int = 30, span_s: float = 300.0) -> list[int]:
    """Tokens per bucket over the last `span_s` seconds, oldest first."""
    width = span_s / buckets
    out = [0] * buckets
    for second, tokens, _ in state.burn:
        index = buckets - 1 - int((now - second) // width)
        if 0 <= index < buckets and second <= now:
            out[index] += tokens
    return out


def seconds_to_budget(state: FleetState, now: float) -> float | None:
    """At the current burn rate, seconds until the fleet's dollar budget is spent (None: no budget or no burn)."""
    if state.budget_usd is None:
        return None
    _, usd_per_hour = burn_rate(state, now)
    left = state.budget_usd - state.cost_usd
    if left <= 0:
        return 0.0
    return left / usd_per_hour * 3600 if usd_per_hour > 0 else None


def cost_per_accepted(state: FleetState) -> float | None:
    return state.cost_usd / state.accepted if state.accepted else None
