"""What a reply cost in US dollars: the plan's own prices first, then genai-prices, else unknown.

genai-prices is used offline, from the data bundled with the installed package (its updater
is never started), so a session's costs depend only on `price_table_version()`, which the
session records. An unknown model costs `None`, shown as "unknown", never $0.

Lookup order for `price_usage`:
  1. the plan's `[prices."MODEL"]` (PlanPrice, USD per million tokens);
  2. genai-prices with the provider id (e.g. "anthropic", "openai", "openrouter");
  3. genai-prices with the model name alone (a local server serving a known model);
  4. None.
Which route prices a (model, provider) pair is cached; a genai-prices calculation costs
~0.1 ms and a miss on the model-alone route ~0.3 ms, so misses are what the cache saves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from typing import Literal

from agents.providers.base import Usage

Route = Literal["provider", "model"]
_PER_MILLION = Decimal(1_000_000)


class PricingError(ValueError):
    """Token counts that cannot be priced because they contradict each other."""


@dataclass(frozen=True, slots=True)
class PlanPrice:
    """A plan's own price for a model, USD per million tokens; cache prices default to input."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        """The price of `usage` at these rates."""
        uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        total = (
            uncached * Decimal(str(self.input))
            + usage.cache_read_tokens * Decimal(str(_or(self.cache_read, self.input)))
            + usage.cache_write_tokens * Decimal(str(_or(self.cache_write, self.input)))
            + usage.output_tokens * Decimal(str(self.output))
        )
        return float(total / _PER_MILLION)


def price_usage(
    usage: Usage,
    model: str,
    provider_id: str | None,
    plan_prices: dict[str, PlanPrice] | None = None,
) -> float | None:
    """USD cost of one reply's usage, or None when no price is known for the model."""
    _check(usage, model)
    if plan_prices and (own := plan_prices.get(model)) is not None:
        return own.cost(usage)
    route = _route(model, provider_id)
    if route is None:
        return None
    return float(_calc(usage, model, provider_id if route == "provider" else None))


def max_cost(
    model: str,
    provider_id: str | None,
    plan_prices: dict[str, PlanPrice] | None,
    input_tokens: int,
    max_output_tokens: int,
) -> float | None:
    """The most a call can cost: all input written to the cache (dearer than plain input) plus max output."""
    plain = Usage(input_tokens=input_tokens, output_tokens=max_output_tokens)
    written = Usage(
        input_tokens=input_tokens, output_tokens=max_output_tokens, cache_write_tokens=input_tokens
    )
    costs = [price_usage(u, model, provider_id, plan_prices) for u in (plain, written)]
    if costs[0] is None or costs[1] is None:
        return None
    return max(costs[0], costs[1])


def price_table_version() -> str:
    """Which price table prices this process's replies, e.g. "genai-prices 0.2.3 (bundled data)"."""
    import genai_prices
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    if snapshot.from_auto_update:
        source = f"auto-updated data of {snapshot.timestamp.isoformat(timespec='seconds')}"
    else:
        source = "bundled data"
    return f"genai-prices {genai_prices.__version__} ({source})"


def provider_id_for_url(base_url: str | None, default: str | None) -> str | None:
    """The genai-prices provider whose API lives at `base_url`; `default` when no URL is given."""
    if base_url is None:
        return default
    return _provider_for_url(base_url.rstrip("/"))


@lru_cache(maxsize=256)
def _provider_for_url(base_url: str) -> str | None:
    from genai_prices import data_snapshot

    for provider in data_snapshot.get_snapshot().providers:
        if re.match(provider.api_pattern, base_url):
            return provider.id
    return None


@cache
def _route(model: str, provider_id: str | None) -> Route | None:
    probe = Usage(input_tokens=1, output_tokens=1)
    if provider_id is not None and _priced(probe, model, provider_id):
        return "provider"
    if _priced(probe, model, None):
        return "model"
    return None


def _priced(usage: Usage, model: str, provider_id: str | None) -> bool:
    try:
        _calc(usage, model, provider_id)
    except LookupError:
        return False
    return True


def _calc(usage: Usage, model: str, provider_id: str | None) -> Decimal:
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    priced = PriceUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    return calc_price(priced, model, provider_id=provider_id).total_price


def _check(usage: Usage, model: str) -> None:
    counts = (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens)
    if min(counts) < 0:
        raise PricingError(f"cannot price {model}: negative token count in {usage}")
    if usage.cache_read_tokens + usage.cache_write_tokens > usage.input_tokens:
        raise PricingError(
            f"cannot price {model}: cache read {usage.cache_read_tokens} + cache write "
            f"{usage.cache_write_tokens} exceed input {usage.input_tokens} (input counts all input)"
        )


def _or(value: float | None, fallback: float) -> float:
    return fallback if value is None else value
