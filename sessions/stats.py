"""What the tokens bought: spend beside outcomes, by role, model, plan and day, across stored sessions.

Every figure comes from SQL over a few event kinds (through the `events_by_kind` index, reading
payload fields with `->>`) and the `agents` roll-up, never from reducing whole sessions:

- tokens by kind, known dollars, tokens of unknown price and whether any price was simulated:
  `usage` events, grouped by the usage's own model;
- deliverables accepted and rejected: each artifact's latest `artifact_review`;
- interventions: `supervisor_action` kill/pause/reprompt/restart/approve/deny aimed at an agent,
  split into the watchdog's and everyone else's (you, from the TUI or a command);
- agent-hours: from an agent's first start to its last finish (or the session's last event),
  without the time the session's process was dead before a resume;
- unaided: agents whose last outcome is `done` and that never needed an intervention, out of
  the agents that ran and finished (skipped ones never ran).

Days are local calendar days. Each figure counts toward the day its event happened (agent-hours
toward the day the agent started); `since` drops what happened before it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sessions.store import Store

INTERVENTION_ACTIONS = ("kill", "pause", "reprompt", "restart", "approve", "deny")
DIMENSIONS = ("role", "model", "plan", "day")
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")
UNKNOWN = "?"

_IN_SCOPE = "session_id IN (SELECT id FROM sessions WHERE coalesce(last_ts, started_at) >= ?1)"
_DAY = "date(ts, 'unixepoch', 'localtime')"
_USAGE_SQL = f"""SELECT session_id, agent, payload ->> '$.provider', payload ->> '$.model', {_DAY},
    total(payload ->> '$.input_tokens'), total(payload ->> '$.output_tokens'),
    total(payload ->> '$.cache_read_tokens'), total(payload ->> '$.cache_write_tokens'),
    total(payload ->> '$.reasoning_tokens'), total(payload ->> '$.cost_usd'),
    total(CASE WHEN payload ->> '$.cost_usd' IS NULL
          THEN (payload ->> '$.input_tokens') + (payload ->> '$.output_tokens') ELSE 0 END),
    max(coalesce(payload ->> '$.simulated', 0))
    FROM events INDEXED BY events_by_kind WHERE {_IN_SCOPE} AND kind = 'usage' AND ts >= ?1 GROUP BY 1, 2, 3, 4, 5"""
_AGENTS_SQL = f"""SELECT a.session_id, a.name, a.role, a.provider, a.model, s.name, coalesce(s.last_ts, s.started_at)
    FROM agents a JOIN sessions s ON s.id = a.session_id WHERE a.{_IN_SCOPE}"""
_STARTS_SQL = f"""SELECT session_id, agent, min(ts) FROM events INDEXED BY events_by_kind
    WHERE {_IN_SCOPE} AND kind = 'agent_status' AND payload ->> '$.status' IN ('starting', 'streaming')
    GROUP BY 1, 2"""
_FINISHES_SQL = f"""SELECT session_id, agent, max(seq), ts, payload ->> '$.outcome' FROM events INDEXED BY events_by_kind
    WHERE {_IN_SCOPE} AND kind = 'agent_finished' GROUP BY 1, 2"""
_ACTIONS_SQL = f"""SELECT session_id, agent, payload ->> '$.by' = 'watchdog', {_DAY}, ts >= ?1, count(*)
    FROM events INDEXED BY events_by_kind WHERE {_IN_SCOPE} AND kind = 'supervisor_action' AND agent IS NOT NULL
    AND payload ->> '$.action' IN ({", ".join(repr(a) for a in INTERVENTION_ACTIONS)})
    GROUP BY 1, 2, 3, 4, 5"""
_DOWNTIME_SQL = f"""SELECT r.session_id, p.ts, r.ts FROM events r INDEXED BY events_by_kind
    JOIN events p ON p.session_id = r.session_id AND p.seq = r.seq - 1
    WHERE r.{_IN_SCOPE} AND r.kind = 'session_resumed'"""
_REVIEWS_SQL = f"""SELECT session_id, agent, payload ->> '$.path', max(seq), payload ->> '$.verdict', ts, {_DAY}
    FROM events INDEXED BY events_by_kind WHERE {_IN_SCOPE} AND kind = 'artifact_review' GROUP BY 1, 2, 3"""


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

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "total": self.total.to_json(),
            **{f"by_{dim}": [group.to_json() for group in groups] for dim, groups in self.by.items()},
        }


@dataclass(frozen=True)
class _Agent:
    role: str
    model: str
    plan: str
    session_end: float


class _Tally:
    """Adds amounts to the total and to the agent's group in each dimension."""

    def __init__(self, since: float | None) -> None:
        self.since = since
        self.total = Group("total")
        self.groups: dict[str, dict[str, Group]] = {dim: {} for dim in DIMENSIONS}

    def add(self, keys: dict[str, str], session_id: str, agent: str | None, **amounts: Any) -> None:
        groups = [self.total] + [self.groups[dim].setdefault(keys[dim], Group(keys[dim])) for dim in DIMENSIONS]
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
        return Stats(self.since, self.total, by)


async def compute_stats(store: Store, since: float | None = None) -> Stats:
    """Spend and outcomes of every session in `store` (only what happened at or after `since`, if given)."""
    params = (since if since is not None else float("-inf"),)
    tally = _Tally(since)
    agents = {(row[0], row[1]): _agent(row) for row in await store.fetch_rows(_AGENTS_SQL, params)}
    _add_usage(tally, agents, await store.fetch_rows(_USAGE_SQL, params))
    _add_reviews(tally, agents, await store.fetch_rows(_REVIEWS_SQL, params), params[0])
    helped = _add_interventions(tally, agents, await store.fetch_rows(_ACTIONS_SQL, params))
    starts = {(row[0], row[1]): float(row[2]) for row in await store.fetch_rows(_STARTS_SQL, params)}
    finishes = {(row[0], row[1]): (float(row[3]), str(row[4])) for row in await store.fetch_rows(_FINISHES_SQL, params)}
    downtime: dict[str, list[tuple[float, float]]] = {}
    for session_id, dead_from, resumed_at in await store.fetch_rows(_DOWNTIME_SQL, params):
        downtime.setdefault(str(session_id), []).append((float(dead_from), float(resumed_at)))
    _add_agent_time(tally, agents, starts, finishes, downtime, params[0])
    _add_finishes(tally, agents, finishes, helped, params[0])
    return tally.stats()


def _agent(row: tuple[Any, ...]) -> _Agent:
    _, _, role, provider, model, plan, session_end = row
    return _Agent(role=role, model=f"{provider}/{model}", plan=plan or UNKNOWN, session_end=float(session_end))


def _keys(agent: _Agent | None, day: str, model: str | None = None) -> dict[str, str]:
    if agent is None:
        return {"role": UNKNOWN, "model": model or UNKNOWN, "plan": UNKNOWN, "day": day}
    return {"role": agent.role, "model": model or agent.model, "plan": agent.plan, "day": day}


def _add_usage(tally: _Tally, agents: dict[tuple[str, str], _Agent], rows: Iterable[tuple[Any, ...]]) -> None:
    for session_id, agent, provider, model, day, *amounts in rows:
        tokens = dict(zip(TOKEN_KINDS, amounts[:5], strict=True))
        keys = _keys(agents.get((session_id, agent)), day, f"{provider}/{model}")
        extra = {"cost_usd": amounts[5], "unknown_price_tokens": int(amounts[6]), "simulated": bool(amounts[7])}
        tally.add(keys, session_id, agent, **extra, **tokens)


def _add_reviews(
    tally: _Tally, agents: dict[tuple[str, str], _Agent], rows: Iterable[tuple[Any, ...]], since: float
) -> None:
    for session_id, agent, _path, _seq, verdict, ts, day in rows:
        if ts >= since:
            verdicts = {"accepted": int(verdict == "accepted"), "rejected": int(verdict == "rejected")}
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
