"""Budgets and prices: what a reply cost, and whether the next call may start at all.

Budgets fail closed: a call is refused when its worst case (all input written to the
cache, the full `max_tokens` of output) could overspend what is left, per agent and for
the whole fleet, in dollars and in tokens, and an agent's dollar budget refuses every call
of a model without a price. A fleet's dollar budget over unpriced agents is accepted when
the run starts (`--yes`); their spend is then counted in tokens beside the dollars.
"""

from __future__ import annotations

from typing import Protocol

from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.plan_checks import PRICE_FIX, unpriced_agents
from tokenmaxx.agents.plan_models import AgentSpec, Budget
from tokenmaxx.agents.pricing import PlanPrice, max_cost, price_usage
from tokenmaxx.agents.providers.base import Usage
from tokenmaxx.sessions.state import FleetState


class Priced(Protocol):
    """What pricing needs to know of where a reply came from (a provider, or a harness's provider)."""

    price_provider_id: str | None
    price_as: str | None


class Budgets:
    """Prices replies and checks calls against the plan's budgets."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.plan_prices = {
            model: PlanPrice(p.input, p.output, p.cache_read, p.cache_write)
            for model, p in plan.prices.items()
            if p.input is not None and p.output is not None
        }

    def price(self, spec: AgentSpec, provider: Priced, usage: Usage) -> tuple[float | None, float | None]:
        """The reply's cost and what the cache saved, each None when the model's price is unknown."""
        model = self._price_model(spec, provider)
        cost = price_usage(usage, model, provider.price_provider_id, self.plan_prices)
        if cost is None or not usage.cache_read_tokens:
            return cost, None
        uncached = Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
        )
        full = price_usage(uncached, model, provider.price_provider_id, self.plan_prices)
        return cost, None if full is None else max(0.0, full - cost)

    def refusal(
        self, state: FleetState, spec: AgentSpec, provider: Priced | None, input_tokens: int, max_output: int
    ) -> str | None:
        """Why the next call may not start, or None when every budget can cover its worst case."""
        worst_usd = None
        if provider is not None:
            model = self._price_model(spec, provider)
            worst_usd = max_cost(model, provider.price_provider_id, self.plan_prices, input_tokens, max_output)
            if worst_usd is None and spec.budget.usd is not None:
                return f'{spec.name}\'s budget of ${spec.budget.usd:.2f} cannot be kept: no price is known for "{model}"; {PRICE_FIX.replace("MODEL", model)}'
        agent = state.agents.get(spec.name)
        spent_usd = agent.cost_usd if agent else 0.0
        spent_tokens = agent.tokens.total if agent else 0
        worst_tokens = input_tokens + max_output
        return _over(f"{spec.name}'s budget", spec.budget, spent_usd, spent_tokens, worst_usd, worst_tokens) or _over(
            "the fleet's budget", self.plan.budget, state.cost_usd, state.tokens.total, worst_usd, worst_tokens
        )

    def unbounded(self, spec: AgentSpec) -> bool:
        """Whether no budget can refuse the agent's calls: neither it nor the fleet has one."""
        return not any((spec.budget.usd, spec.budget.tokens, self.plan.budget.usd, self.plan.budget.tokens))

    def _price_model(self, spec: AgentSpec, provider: Priced) -> str:
        return self.plan.priced_as(spec, provider.price_as)


def unpriced_fleet_budget(plan: Plan) -> str | None:
    """Why the fleet's USD budget cannot see all spend (agents whose model has no price), or None when it can."""
    if plan.budget.usd is None:
        return None
    unpriced = unpriced_agents(plan)
    if not unpriced:
        return None
    named = ", ".join(f'{agent} ("{model}")' for agent, model in unpriced)
    fix = PRICE_FIX.replace("MODEL", unpriced[0][1])
    return (
        f"the fleet's budget of ${plan.budget.usd:.2f} cannot count the spend of {named}: no price is known, "
        f"so their tokens are counted beside the dollars; to price them, {fix}"
    )


def _over(
    whose: str, budget: Budget, spent_usd: float, spent_tokens: int, worst_usd: float | None, worst_tokens: int
) -> str | None:
    if budget.usd is not None and worst_usd is not None and spent_usd + worst_usd > budget.usd:
        return f"{whose} of {_dollars(budget.usd)} cannot cover the next call (spent ${spent_usd:.4f}, the call could cost ${worst_usd:.4f})"
    if budget.tokens is not None and spent_tokens + worst_tokens > budget.tokens:
        return f"{whose} of {budget.tokens:,} tokens cannot cover the next call (spent {spent_tokens:,}, the call could take {worst_tokens:,})"
    return None


def _dollars(usd: float) -> str:
    """A budget in dollars as written: cents when whole cents, else four places ($0.0050 stays $0.0050, not $0.01)."""
    return f"${usd:,.2f}" if round(usd, 2) == usd else f"${usd:,.4f}"
