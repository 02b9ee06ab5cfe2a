"""What a reply cost in US dollars: the plan's own prices first, then genai-prices, else unknown.

genai-prices is used offline, from the data bundled with the installed package (its updater
is never started), so a session's costs depend only on `price_table_version()`, which the
session records. An unknown model costs `None`, shown as "unknown", never $0.

Lookup order for `price_usage`:
  1. the plan's `[prices."MODEL"]` (PlanPrice, USD per million tokens);
  2. genai-prices with the provider id (e.g. "anthropic", "openai", "openrouter");
  3. a gateway's `provider/model` name (LiteLLM: "openai/gpt-4o-mini", "azure/gpt-4o-mini")
     whose prefix is a genai-prices provider id: the model with that provider;
  4. genai-prices with the model name alone (a local server serving a known model);
  5. any other `org/model` name (e.g. "Qwen/Qwen3-8B") as OpenRouter prices it;
  6. None.
Which route prices a (model, provider) pair is cached; a genai-prices calculation costs
~0.1 ms and a miss on the model-alone route ~0.3 ms, so misses are what the cache saves.
A price that is linear in the tokens (no tiers, no fee per request, no time-of-day price) is
priced by arithmetic on its per-token rates, read once a UTC day from genai-prices (a price
may change on a start date); any other price goes through genai-prices' `calc_price` each time.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache, lru_cache
from collections.abc import Collection
from typing import TYPE_CHECKING

from tokenmaxx.agents.providers.base import Usage

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo

Route = tuple[str, str | None]
"""The (model, provider id) that genai-prices prices a reply by."""
_PER_MILLION = Decimal(1_000_000)
_SECONDS_PER_DAY = 86_400


class PricingError(ValueError):
    """Token counts that cannot be priced because they contradict each other."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Linear prices, USD per million tokens of each kind; `input` is for uncached input."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    def cost(self, usage: Usage) -> Decimal:
        """The price of `usage` at these rates."""
        uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
        total = (
            uncached * self.input
            + usage.cache_read_tokens * self.cache_read
            + usage.cache_write_tokens * self.cache_write
            + usage.output_tokens * self.output
        )
        return total / _PER_MILLION


@dataclass(frozen=True, slots=True)
class PlanPrice:
    """A plan's own price for a model, USD per million tokens; cache prices default to input."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None

    def cost(self, usage: Usage) -> float:
        """The price of `usage` at these rates."""
        rates = Rates(
            Decimal(str(self.input)),
            Decimal(str(self.output)),
            Decimal(str(_or(self.cache_read, self.input))),
            Decimal(str(_or(self.cache_write, self.input))),
        )
        return float(rates.cost(usage))


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
    priced_model, priced_by = route
    rates = linear_rates(priced_model, priced_by, int(time.time() // _SECONDS_PER_DAY))
    if rates is not None:
        return float(rates.cost(usage))
    return float(_calc(usage, priced_model, priced_by))


def is_priced(model: str, provider_id: str | None, plan_priced: Collection[str] = ()) -> bool:
    """Whether replies of `model` have a price: the plan's own (`plan_priced` names them) or genai-prices'."""
    return model in plan_priced or _route(model, provider_id) is not None


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
    return next((route for route in _candidates(model, provider_id) if _priced(probe, *route)), None)


def _candidates(model: str, provider_id: str | None) -> list[Route]:
    """The routes to try for a model, in the module docstring's order."""
    routes: list[Route] = [(model, provider_id)] if provider_id is not None else []
    prefix, slash, rest = model.partition("/")
    if slash and rest and prefix.lower() in _provider_ids():
        routes.append((rest, prefix.lower()))
    routes.append((model, None))
    if slash and rest:
        routes.append((model, "openrouter"))
    return routes


@cache
def _provider_ids() -> frozenset[str]:
    from genai_prices import data_snapshot

    return frozenset(provider.id for provider in data_snapshot.get_snapshot().providers)


@lru_cache(maxsize=256)
def linear_rates(model: str, provider_id: str | None, utc_day: int) -> Rates | None:
    """genai-prices' per-token rates for a model on a UTC day (days since the epoch), or None when its price is not linear.

    The rates are what `calc_price` charges for a million tokens of each kind, so the two agree
    by construction wherever the price is linear.
    """
    from genai_prices import data_snapshot

    at = datetime.fromtimestamp(utc_day * _SECONDS_PER_DAY, UTC)
    _, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)
    if not _linear(info, at) or _calc(Usage(), model, provider_id, at) != 0:
        return None
    million = 1_000_000
    return Rates(
        input=_calc(Usage(input_tokens=million), model, provider_id, at),
        output=_calc(Usage(output_tokens=million), model, provider_id, at),
        cache_read=_calc(Usage(input_tokens=million, cache_read_tokens=million), model, provider_id, at),
        cache_write=_calc(Usage(input_tokens=million, cache_write_tokens=million), model, provider_id, at),
    )


def _linear(info: ModelInfo, at: datetime) -> bool:
    """Whether a model's price on `at`'s day is the same all day and proportional to each kind of token."""
    from genai_prices.types import StartDateConstraint, TieredPrices

    if isinstance(info.prices, list):
        constraints = (conditional.constraint for conditional in info.prices)
        if not all(c is None or isinstance(c, StartDateConstraint) for c in constraints):
            return False
    prices = vars(info.get_prices(at)).values()
    return not any(isinstance(price, TieredPrices) for price in prices)


def _priced(usage: Usage, model: str, provider_id: str | None) -> bool:
    try:
        _calc(usage, model, provider_id)
    except LookupError:
        return False
    return True


def _calc(usage: Usage, model: str, provider_id: str | None, at: datetime | None = None) -> Decimal:
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    priced = PriceUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    return calc_price(priced, model, provider_id=provider_id, genai_request_timestamp=at).total_price


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
