"""Reprompts that wait for a busy agent to reach a safe point before they are sent.

A message typed while an agent streams or runs a tool would cut it off mid-sentence; it waits
here instead, visible and editable, until the agent's status changes (its reply or its tool
ended) or it starts a new turn, and is then handed back for delivery. The supervisor holds it,
so a message outlives the client that queued it and every client sees the same queue (in
`AgentState.queued_reprompt`). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenmaxx.sessions.state import AgentState

BUSY_STATUSES = frozenset({"streaming", "tool"})


@dataclass(frozen=True)
class QueuedReprompt:
    """A message waiting for its agent, and where the agent was when it was queued."""

    agent: str
    text: str
    status: str
    turn: int
    by: str = "user"


def is_busy(agent: AgentState) -> bool:
    """True while the agent is mid-reply or mid-tool, where a reprompt would cut it off; a stalled agent is not."""
    return agent.status in BUSY_STATUSES and "stalled" not in agent.flags


class RepromptQueue:
    """At most one waiting message per agent."""

    def __init__(self) -> None:
        self._waiting: dict[str, QueuedReprompt] = {}

    def __contains__(self, agent: object) -> bool:
        return agent in self._waiting

    def __len__(self) -> int:
        return len(self._waiting)

    def get(self, agent: str) -> str | None:
        """The waiting message of `agent`, if any."""
        queued = self._waiting.get(agent)
        return queued.text if queued else None

    def texts(self) -> dict[str, str]:
        """Every waiting message by agent name."""
        return {name: queued.text for name, queued in self._waiting.items()}

    def put(self, agent: AgentState, text: str, by: str = "user") -> None:
        """Queue `text` for `agent`, replacing a message already waiting (which keeps its place)."""
        previous = self._waiting.get(agent.name)
        status, turn = (previous.status, previous.turn) if previous else (agent.status, agent.turn)
        self._waiting[agent.name] = QueuedReprompt(agent.name, text, status, turn, by)

    def drop(self, agent: str) -> bool:
        """Forget the waiting message of `agent`; False when there was none."""
        return self._waiting.pop(agent, None) is not None

    def due(self, agents: dict[str, AgentState]) -> list[QueuedReprompt]:
        """Remove and return the messages whose agents reached a safe point (or vanished)."""
        ready = [q for q in self._waiting.values() if _safe(q, agents.get(q.agent))]
        for queued in ready:
            del self._waiting[queued.agent]
        return ready


def _safe(queued: QueuedReprompt, agent: AgentState | None) -> bool:
    if agent is None:
        return True
    return not is_busy(agent) or agent.status != queued.status or agent.turn != queued.turn
