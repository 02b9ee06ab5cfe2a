"""Prices: the plan's own first, then genai-prices by provider, then by model alone, else unknown."""

from __future__ import annotations

import time
from decimal import Decimal

import genai_prices
import pytest

from tokenmaxx.agents.pricing import (
    PlanPrice,
    PricingError,
    Rates,
    linear_rates,
    max_cost,
    price_table_version,
    price_usage,
    provider_id_for_url,
)
from tokenmaxx.agents.providers.base import Usage

USAGE = Usage(input_tokens=12_000, output_tokens=800, cache_read_tokens=9_000, cache_write_tokens=1_000)


def genai(usage: Usage, model: str, provider_id: str | None) -> float:
    priced = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    return float(genai_prices.calc_price(priced, model, provider_id=provider_id).total_price)


def test_known_model_with_provider_costs_what_genai_prices_says():
    cost = price_usage(USAGE, "claude-sonnet-4-6", "anthropic")
    assert cost == pytest.approx(genai(USAGE, "claude-sonnet-4-6", "anthropic"), rel=1e-12)
    assert cost == pytest.approx((2_000 * 3 + 9_000 * 0.3 + 1_000 * 3.75 + 800 * 15) / 1e6, rel=1e-9)


def test_provider_id_changes_the_price_when_the_provider_charges_differently():
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    direct = price_usage(usage, "gpt-4o", "openai")
    assert direct == pytest.approx(genai(usage, "gpt-4o", "openai"))
    assert price_usage(usage, "gpt-4o", None) == pytest.approx(genai(usage, "gpt-4o", None))


def test_unknown_provider_falls_back_to_the_model_alone():
    usage = Usage(input_tokens=1_000, output_tokens=100)
    assert price_usage(usage, "claude-haiku-4-5", "my-local-proxy") == pytest.approx(genai(usage, "claude-haiku-4-5", None))


def test_unknown_model_is_unknown_not_zero():
    assert price_usage(USAGE, "llama3.3:70b-local", None) is None
    assert price_usage(USAGE, "llama3.3:70b-local", "openai") is None


def test_plan_price_comes_first_even_for_a_known_model():
    plan = {"claude-sonnet-4-6": PlanPrice(input=1.0, output=2.0, cache_read=0.1, cache_write=1.5)}
    cost = price_usage(USAGE, "claude-sonnet-4-6", "anthropic", plan)
    assert cost == pytest.approx((2_000 * 1.0 + 9_000 * 0.1 + 1_000 * 1.5 + 800 * 2.0) / 1e6)


def test_plan_price_without_cache_prices_charges_cached_tokens_as_input():
    plan = {"glm-5.2": PlanPrice(input=1.4, output=4.0)}
    assert price_usage(USAGE, "glm-5.2", None, plan) == pytest.approx((12_000 * 1.4 + 800 * 4.0) / 1e6)


def test_plan_prices_for_other_models_do_not_apply():
    plan = {"glm-5.2": PlanPrice(input=1.4, output=4.0)}
    assert price_usage(USAGE, "llama3.3:70b-local", None, plan) is None


def test_zero_usage_costs_zero_for_a_known_model():
    assert price_usage(Usage(), "claude-sonnet-4-6", "anthropic") == 0.0


def test_cache_counts_above_input_are_refused_with_the_numbers():
    bad = Usage(input_tokens=100, output_tokens=1, cache_read_tokens=90, cache_write_tokens=20)
    with pytest.raises(PricingError, match=r"cache read 90 \+ cache write 20 exceed input 100"):
        price_usage(bad, "claude-sonnet-4-6", "anthropic")


def test_max_cost_assumes_every_input_token_is_a_cache_write_plus_max_output():
    worst = max_cost("claude-sonnet-4-6", "anthropic", None, input_tokens=50_000, max_output_tokens=4_096)
    assert worst == pytest.approx((50_000 * 3.75 + 4_096 * 15) / 1e6)
    for cached in (0, 20_000, 50_000):
        usage = Usage(input_tokens=50_000, output_tokens=4_096, cache_read_tokens=cached)
        assert price_usage(usage, "claude-sonnet-4-6", "anthropic") <= worst


def test_max_cost_of_an_unknown_model_is_unknown():
    assert max_cost("llama3.3:70b-local", None, None, 1_000, 1_000) is None


def test_max_cost_uses_plan_prices():
    plan = {"glm-5.2": PlanPrice(input=1.0, output=3.0)}
    assert max_cost("glm-5.2", None, plan, 1_000_000, 1_000_000) == pytest.approx(4.0)


def test_price_table_version_names_genai_prices_and_its_data():
    version = price_table_version()
    assert version == f"genai-prices {genai_prices.__version__} (bundled data)"


@pytest.mark.parametrize(
    ("base_url", "default", "expected"),
    [(None, "openai", "openai"), ("https://api.openai.com/v1", "openai", "openai"),
     ("https://openrouter.ai/api/v1/", "openai", "openrouter"), ("http://localhost:8000/v1", "openai", None)],
)
def test_provider_id_for_url(base_url, default, expected):
    assert provider_id_for_url(base_url, default) == expected


@pytest.fixture
def calc_price_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The models genai-prices' calc_price is asked to price from here on."""
    calls: list[str] = []
    real = genai_prices.calc_price

    def counted(usage, model, **kwargs):
        calls.append(model)
        return real(usage, model, **kwargs)

    monkeypatch.setattr(genai_prices, "calc_price", counted)
    return calls


CACHED_USAGES = [
    USAGE,
    Usage(input_tokens=150_000, output_tokens=4_096, cache_read_tokens=140_000),
    Usage(input_tokens=7, output_tokens=3, cache_write_tokens=7),
    Usage(input_tokens=1_234_567, output_tokens=89_012, cache_read_tokens=345_678, cache_write_tokens=123_456),
]


@pytest.mark.parametrize(
    ("model", "provider_id"),
    [("claude-sonnet-4-6", "anthropic"), ("claude-haiku-4-5", "anthropic"), ("gpt-4o", "openai"),
     ("gemini-2.5-flash", "google"), ("claude-sonnet-4-6", "my-local-proxy")],
)
def test_linear_prices_are_computed_without_genai_prices_and_cost_the_same(model, provider_id, calc_price_calls):
    expected = [genai(usage, model, provider_id if provider_id != "my-local-proxy" else None) for usage in CACHED_USAGES]
    price_usage(USAGE, model, provider_id)
    calc_price_calls.clear()
    assert [price_usage(usage, model, provider_id) for usage in CACHED_USAGES] == expected
    assert calc_price_calls == []


@pytest.mark.parametrize(
    ("model", "provider_id"),
    [("gemini-2.5-pro", "google"), ("claude-sonnet-4-5", "anthropic"), ("deepseek-chat", "deepseek"), ("sonar", "perplexity")],
)
def test_tiered_timed_and_per_request_prices_go_through_genai_prices(model, provider_id, calc_price_calls):
    """Tiers (above 200k input), off-peak hours and a fee per request are not linear in the tokens."""
    assert linear_rates(model, provider_id, int(time.time() // 86_400)) is None
    usages = [Usage(input_tokens=1_000, output_tokens=100), Usage(input_tokens=300_000, output_tokens=100)]
    expected = [genai(usage, model, provider_id) for usage in usages]
    price_usage(usages[0], model, provider_id)
    calc_price_calls.clear()
    assert [price_usage(usage, model, provider_id) for usage in usages] == expected
    assert calc_price_calls == [model, model]


def test_linear_rates_are_per_million_tokens_of_each_kind():
    rates = linear_rates("claude-sonnet-4-6", "anthropic", int(time.time() // 86_400))
    assert rates == Rates(input=Decimal(3), output=Decimal(15), cache_read=Decimal("0.3"), cache_write=Decimal("3.75"))


def test_plan_price_still_wins_over_a_linear_genai_price(calc_price_calls):
    plan = {"gpt-4o": PlanPrice(input=1.0, output=2.0)}
    assert price_usage(USAGE, "gpt-4o", "openai", plan) == pytest.approx((12_000 * 1.0 + 800 * 2.0) / 1e6)
    assert calc_price_calls == []
