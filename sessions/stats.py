"""What the tokens bought: spend beside outcomes, by role, model, plan and day, across stored sessions.

Every figure comes from the store's grouped rows over a few event kinds (`SessionStore.stats_rows`:
an index on kind, payload fields read in the database) and the `agents` roll-up, never from
reducing whole sessions; the tally here is the same for every backend:

- tokens by kind, known dollars, tokens of unknown price and whether any price was simulated:
  `usage` events, grouped by the usage's own model;
- deliverables accepted and rejected: each artifact's latest `artifact_review`;
- changes (a worktree agent's `diff` artifacts) accepted and rejected, rework rounds (a diff
  rejected with a note, which goes back to its agent) and the lines added and removed of the
  accepted diffs: the latest `artifact` of each diff path beside its review;
- interventions: `supervisor_action` kill/pause/reprompt/restart/approve/deny aimed at an agent,
  split into the watchdog's and everyone else's (you, from the TUI or a command);
- agent-hours: from an agent's first start to its last finish (or the session's last event),
  without the time the session's process was dead before a resume;
- unaided: agents whose last outcome is `done` and that never needed an intervention, out of
  the agents that ran and finished (skipped ones never ran).

Dimensions: role, model, plan, day, user (who ran the session) and harness (the agent's provider).
Days are local calendar days. Each figure counts toward the day its event happened (agent-hours
toward the day the agent started); `since` drops what happened before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tokenmaxx.sessions.schema import SessionSummary
from tokenmaxx.sessions.store_api import SessionStore, StatsRows

DIMENSIONS = ("role", "model", "plan", "day", "user", "harness")
DEFAULT_DIMENSIONS = ("role", "model", "plan", "day")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")
UNKNOWN = "?"
COSTLIEST = 5


@dataclass
class Group:
    """Spend and outcomes of one role, model, plan or day (or of everything); `agents` are those with anything counted."""

    key: str
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOKEN_KINDS, 0))
    cost_usd: float = 0.0
    unknown_price_tokens: int = 0
    simulated: bool = False
    accepted: int = 0
    rejected: int = 0
    changes_accepted: int = 0
    changes_rejected: int = 0
    rework: int = 0
    lines_accepted: int = 0
    interventions: int = 0
    watchdog_interventions: int = 0
    agent_seconds: float = 0.0
    finished: int = 0
    finished_unaided: int = 0
    sessions: set[str] = field(default_factory=set)
    agents: set[tuple[str, str]] = field(default_factory=set)

    @property
    def cache_hit_rate(self) -> float | None:
        """Cached input tokens read over all input tokens."""
        return self.tokens["cache_read"] / self.tokens["input"] if self.tokens["input"] else None

    @property
    def usd_per_accepted(self) -> float | None:
        return self.cost_usd / self.accepted if self.accepted else None

    @property
    def usd_per_change(self) -> float | None:
        return self.cost_usd / self.changes_accepted if self.changes_accepted else None

    @property
    def lines_per_usd(self) -> float | None:
        return self.lines_accepted / self.cost_usd if self.changes_accepted and self.cost_usd > 0 else None

    @property
    def agent_hours(self) -> float:
        return self.agent_seconds / 3600

    @property
    def interventions_per_agent_hour(self) -> float | None:
        total = self.interventions + self.watchdog_interventions
        return total / self.agent_hours if self.agent_seconds > 0 else None

    @property
    def unaided_share(self) -> float | None:
        return self.finished_unaided / self.finished if self.finished else None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "sessions": len(self.sessions),
            "agents": len(self.agents),
            "tokens": dict(self.tokens),
            "cost_usd": round(self.cost_usd, 6),
            "unknown_price_tokens": self.unknown_price_tokens,
            "simulated": self.simulated,
            "cache_hit_rate": self.cache_hit_rate,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "usd_per_accepted": self.usd_per_accepted,
            "changes": {"accepted": self.changes_accepted, "rejected": self.changes_rejected, "rework": self.rework},
            "lines_accepted": self.lines_accepted,
            "usd_per_accepted_change": self.usd_per_change,
            "lines_per_usd": self.lines_per_usd,
            "interventions": {"user": self.interventions, "watchdog": self.watchdog_interventions},
            "agent_hours": round(self.agent_hours, 6),
            "interventions_per_agent_hour": self.interventions_per_agent_hour,
            "finished": self.finished,
            "finished_unaided": self.finished_unaided,
            "unaided_share": self.unaided_share,
        }


@dataclass
class Stats:
    """Every group of every dimension, plus the total; groups sorted by key (days in order)."""

    since: float | None
    total: Group
    by: dict[str, list[Group]]
    costliest: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self, dimensions: tuple[str, ...] = DEFAULT_DIMENSIONS) -> dict[str, Any]:
        return {
            "since": self.since,
            "total": self.total.to_json(),
            **{f"by_{dim}": [group.to_json() for group in self.by[dim]] for dim in dimensions},
            "costliest_per_accepted": [{"session": key, "usd_per_accepted": round(usd, 6)} for key, usd in self.costliest],
        }


@dataclass(frozen=True)
class _Agent:
    role: str
    model: str
    plan: str
    session_end: float
    user: str
    harness: str


class _Tally:
    """Adds amounts to the total and to the agent's group in each dimension."""

    def __init__(self, since: float | None) -> None:
        self.since = since
        self.total = Group("total")
        self.groups: dict[str, dict[str, Group]] = {dim: {} for dim in DIMENSIONS}
        self.per_session: dict[str, tuple[float, int]] = {}

    def add(self, keys: dict[str, str], session_id: str, agent: str | None, **amounts: Any) -> None:
        groups = [self.total] + [self.groups[dim].setdefault(keys[dim], Group(keys[dim])) for dim in DIMENSIONS]
        cost, accepted = self.per_session.get(session_id, (0.0, 0))
        self.per_session[session_id] = (cost + amounts.get("cost_usd", 0.0), accepted + amounts.get("accepted", 0))
        for group in groups:
            group.sessions.add(session_id)
            if agent is not None:
                group.agents.add((session_id, agent))
            for name, amount in amounts.items():
                if name in TOKEN_KINDS:
                    group.tokens[name] += int(amount)
                elif name == "simulated":
                    group.simulated = group.simulated or bool(amount)
                else:
                    setattr(group, name, getattr(group, name) + amount)

    def stats(self) -> Stats:
        by = {dim: [groups[key] for key in sorted(groups)] for dim, groups in self.groups.items()}
        return Stats(self.since, self.total, by, self.costliest())

    def costliest(self) -> list[tuple[str, float]]:
        """The sessions that cost most per accepted deliverable, costliest first."""
        priced = [(key, cost / accepted) for key, (cost, accepted) in self.per_session.items() if accepted]
        return sorted(priced, key=lambda item: (-item[1], item[0]))[:COSTLIEST]


SessionFilter = Callable[[SessionSummary], bool]


async def compute_stats(store: SessionStore, since: float | None = None, only: SessionFilter | None = None) -> Stats:
    """Spend and outcomes of every session in `store` (only what happened at or after `since`, only sessions `only` keeps)."""
    start = since if since is not None else float("-inf")
    rows = await store.stats_rows(start)
    if only is not None:
        rows = _keep(rows, {summary.id for summary in await store.sessions() if only(summary)})
    tally = _Tally(since)
    agents = {(row[0], row[1]): _agent(row) for row in rows.agents}
    _add_usage(tally, agents, rows.usage)
    diffs = {(row[0], row[1], row[2]): int(row[4]) for row in rows.diffs}
    _add_reviews(tally, agents, rows.reviews, diffs, start)
    for session_id, agent, day, count in rows.rework:
        tally.add(_keys(agents.get((session_id, agent)), day), session_id, agent, rework=int(count))
    helped = _add_interventions(tally, agents, rows.actions)
    starts = {(row[0], row[1]): float(row[2]) for row in rows.starts}
    finishes = {(row[0], row[1]): (float(row[3]), str(row[4])) for row in rows.finishes}
    downtime: dict[str, list[tuple[float, float]]] = {}
    for session_id, dead_from, resumed_at in rows.downtime:
        downtime.setdefault(str(session_id), []).append((float(dead_from), float(resumed_at)))
    _add_agent_time(tally, agents, starts, finishes, downtime, start)
    _add_finishes(tally, agents, finishes, helped, start)
    return tally.stats()


def _keep(rows: StatsRows, session_ids: set[str]) -> StatsRows:
    """Only the rows of the given sessions."""
    return StatsRows(**{name: [row for row in found if row[0] in session_ids] for name, found in vars(rows).items()})


def _agent(row: tuple[Any, ...]) -> _Agent:
    _, _, role, provider, model, plan, session_end, user = row
    return _Agent(
        role=role,
        model=f"{provider}/{model}",
        plan=plan or UNKNOWN,
        session_end=float(session_end),
        user=user or UNKNOWN,
        harness=provider,
    )


def _keys(agent: _Agent | None, day: str, model: str | None = None) -> dict[str, str]:
    if agent is None:
        return {"role": UNKNOWN, "model": model or UNKNOWN, "plan": UNKNOWN, "day": day, "user": UNKNOWN, "harness": UNKNOWN}
    keys = {"role": agent.role, "model": model or agent.model, "plan": agent.plan, "day": day}
    return {**keys, "user": agent.user, "harness": agent.harness}


def _add_usage(tally: _Tally, agents: dict[tuple[str, str], _Agent], rows: Iterable[tuple[Any, ...]]) -> None:
    for session_id, agent, provider, model, day, *amounts in rows:
        tokens = dict(zip(TOKEN_KINDS, amounts[:5], strict=True))
        keys = _keys(agents.get((session_id, agent)), day, f"{provider}/{model}")
        extra = {"cost_usd": amounts[5], "unknown_price_tokens": int(amounts[6]), "simulated": bool(amounts[7])}
        tally.add(keys, session_id, agent, **extra, **tokens)


def _add_reviews(
    tally: _Tally,
    agents: dict[tuple[str, str], _Agent],
    rows: Iterable[tuple[Any, ...]],
    diffs: dict[tuple[str, str, str], int],
    since: float,
) -> None:
    for session_id, agent, path, _seq, verdict, ts, day in rows:
        if ts >= since:
            verdicts = {"accepted": int(verdict == "accepted"), "rejected": int(verdict == "rejected")}
            lines = diffs.get((session_id, agent, path))
            if lines is not None:
                changes = {"changes_accepted": verdicts["accepted"], "changes_rejected": verdicts["rejected"]}
                verdicts |= changes | {"lines_accepted": lines * verdicts["accepted"]}
            tally.add(_keys(agents.get((session_id, agent)), day), session_id, agent, **verdicts)


def _add_interventions(
    tally: _Tally, agents: dict[tuple[str, str], _Agent], rows: Iterable[tuple[Any, ...]]
) -> set[tuple[str, str]]:
    """Count interventions since `since`; return every agent that ever had one."""
    helped: set[tuple[str, str]] = set()
    for session_id, agent, by_watchdog, day, in_range, count in rows:
        helped.add((session_id, agent))
        if in_range:
            name = "watchdog_interventions" if by_watchdog else "interventions"
            tally.add(_keys(agents.get((session_id, agent)), day), session_id, agent, **{name: int(count)})
    return helped


def _add_agent_time(
    tally: _Tally,
    agents: dict[tuple[str, str], _Agent],
    starts: dict[tuple[str, str], float],
    finishes: dict[tuple[str, str], tuple[float, str]],
    downtime: dict[str, list[tuple[float, float]]],
    since: float,
) -> None:
    for (session_id, name), started in starts.items():
        agent = agents.get((session_id, name))
        ended = finishes[(session_id, name)][0] if (session_id, name) in finishes else None
        if ended is None:
            ended = agent.session_end if agent is not None else started
        begun = max(started, since)
        gaps = downtime.get(session_id, ())
        dead = sum(max(0.0, min(ended, resumed_at) - max(begun, dead_from)) for dead_from, resumed_at in gaps)
        seconds = max(0.0, ended - begun - dead)
        if seconds > 0 or started >= since:
            tally.add(_keys(agent, _local_day(max(started, since))), session_id, name, agent_seconds=seconds)


def _add_finishes(
    tally: _Tally,
    agents: dict[tuple[str, str], _Agent],
    finishes: dict[tuple[str, str], tuple[float, str]],
    helped: set[tuple[str, str]],
    since: float,
) -> None:
    for (session_id, name), (ended, outcome) in finishes.items():
        if ended >= since and outcome != "skipped":
            unaided = int(outcome == "done" and (session_id, name) not in helped)
            keys = _keys(agents.get((session_id, name)), _local_day(ended))
            tally.add(keys, session_id, name, finished=1, finished_unaided=unaided)


def _local_day(ts: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(ts))
