"""The simulated model's policies: one per built-in role, a generic one for custom roles.

A policy is a function from the conversation so far (`Context`) to the next reply (`Step`).
It decides only from the tool results that came back, so a conversation replays the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from tokenmaxx.agents.sim import charts, critic, deck, factcheck, generic, logs
from tokenmaxx.agents.sim.context import Call, Context, Exchange, Step, context_from, is_fresh

Policy = Callable[[Context], Step]

POLICIES: dict[str, Policy] = {
    "chart-builder": charts.next_step,
    "log-analyst": logs.next_step,
    "fact-checker": factcheck.next_step,
    "deck-builder": deck.next_step,
    "critic": critic.next_step,
}


def policy_for(role: str) -> Policy:
    """The policy of a built-in role, or the generic one for any other role."""
    return POLICIES.get(role, generic.next_step)


__all__ = ["POLICIES", "Call", "Context", "Exchange", "Policy", "Step", "context_from", "is_fresh", "policy_for"]
