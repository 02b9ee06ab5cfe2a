"""The Anthropic adapter driven through the real SDK against a fake Messages server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import random
import subprocess
import sys
import time
from contextlib import aclosing

import genai_prices
import pytest

from tokenmaxx.agents.pricing import price_usage
from tokenmaxx.agents.providers.anthropic import AnthropicProvider, request_params
from tokenmaxx.agents.providers.base import (
    Message,
    ModelRequest,
    ProviderEvent,
    ProviderFailure,
    Stop,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolCallRequested,
    ToolResultPart,
    ToolSpec,
    Usage,
    UsageReport,
)
from tokenmaxx.agents.providers.retry import backoff_delay

from tests import fakes
from tests.fakes import Call, ServerUsage, Stream
from tests.fakes import anthropic_server as wire
from tests.fakes.anthropic_server import AnthropicFakeServer

KEY = "sk-ant-planted-4f9c2e7d1b"
MODEL = "claude-sonnet-4-6"
TOOLS = (
    ToolSpec("read_file", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}}),
    ToolSpec("list_files", "List files.", {"type": "object", "properties": {}}),
)
REQUEST = ModelRequest(
    model=MODEL, system="You chart things.", messages=(Message("user", (TextPart("Chart it."),)),), tools=TOOLS
)


@pytest.fixture
def server():
    with AnthropicFakeServer() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
async def provider(server):
    adapter = AnthropicProvider("claude", api_key=KEY, base_url=server.base_url, api_key_env="MY_CLAUDE_KEY")
    yield adapter
    await adapter.aclose()


async def collect(provider: AnthropicProvider, request: ModelRequest = REQUEST) -> list[ProviderEvent]:
    return await fakes.collect(provider, request)


async def fail(provider: AnthropicProvider, request: ModelRequest = REQUEST) -> tuple[list[ProviderEvent], ProviderFailure]:
    return await fakes.collect_until_failure(provider, request)


def genai_cost(usage: Usage) -> float:
    priced = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    return float(genai_prices.calc_price(priced, MODEL, provider_id="anthropic").total_price)


async def test_text_reply_streams_deltas_then_usage_and_stop(server, provider):
    server.enqueue(wire.text_reply("Hello, fleet!", chunks=3, usage=ServerUsage(uncached_input=40, output=7)))
    events = await collect(provider)
    assert events == [
        TextDelta("Hello"),
        TextDelta(", fl"),
        TextDelta("eet!"),
        UsageReport(Usage(input_tokens=40, output_tokens=7)),
        Stop("end_turn"),
    ]
    (request,) = server.requests
    assert request.path == "/v1/messages"
    assert request.body["model"] == MODEL and request.body["stream"] is True
    assert request.body["max_tokens"] == 4096
    assert request.headers["authorization"] == f"Bearer {KEY}"


async def test_usage_with_cache_tokens_counts_all_input_and_costs_what_genai_prices_says(server, provider):
    server.enqueue(wire.text_reply("ok", usage=ServerUsage(uncached_input=120, output=33, cache_read=4000, cache_write=900)))
    events = await collect(provider)
    report = next(e for e in events if isinstance(e, UsageReport))
    assert report.usage == Usage(input_tokens=5020, output_tokens=33, cache_read_tokens=4000, cache_write_tokens=900)
    cost = price_usage(report.usage, MODEL, provider.price_provider_id)
    assert cost == pytest.approx(genai_cost(report.usage), rel=1e-12)
    assert cost == pytest.approx((120 * 3 + 4000 * 0.3 + 900 * 3.75 + 33 * 15) / 1e6, rel=1e-9)


async def test_thinking_tokens_are_reported_as_reasoning(server, provider):
    server.enqueue(wire.text_reply("ok", usage=ServerUsage(uncached_input=10, output=50, reasoning=30)))
    events = await collect(provider)
    assert UsageReport(Usage(input_tokens=10, output_tokens=50, reasoning_tokens=30)) in events


async def test_tool_call_arguments_streamed_in_pieces_arrive_whole(server, provider):
    server.enqueue(wire.tool_reply(Call("toolu_1", "read_file", {"path": "src/app.py", "limit": 40}), pieces=5))
    events = await collect(provider)
    assert events[0] == ToolCallRequested("toolu_1", "read_file", {"path": "src/app.py", "limit": 40})
    assert events[-1] == Stop("tool_use")
    assert sum(1 for frame in wire.tool_reply(Call("a", "b", {"path": "src/app.py", "limit": 40}), pieces=5).frames
               if "input_json_delta" in frame) == 5


async def test_two_tool_calls_after_text_arrive_in_order(server, provider):
    calls = (Call("toolu_1", "read_file", {"path": "a.txt"}), Call("toolu_2", "list_files", {}))
    server.enqueue(wire.tool_reply(*calls, text="Let me look."))
    events = await collect(provider)
    assert [e for e in events if isinstance(e, ToolCallRequested)] == [
        ToolCallRequested("toolu_1", "read_file", {"path": "a.txt"}),
        ToolCallRequested("toolu_2", "list_files", {}),
    ]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me look."


async def test_tool_input_that_is_not_json_becomes_empty_args_with_its_text_kept(server, provider):
    server.enqueue(wire.tool_reply(Call("toolu_9", "read_file", '{"path": "x'), pieces=2))
    events = await collect(provider)
    assert ToolCallRequested("toolu_9", "read_file", {}, raw_args='{"path": "x') in events


@pytest.mark.parametrize(
    ("wire_reason", "reason"),
    [("max_tokens", "max_tokens"), ("refusal", "refusal"), ("stop_sequence", "stop_sequence"), ("pause_turn", "other"),
     ("model_context_window_exceeded", "max_tokens")],
)
async def test_stop_reasons_are_mapped(server, provider, wire_reason, reason):
    server.enqueue(wire.text_reply("x", stop_reason=wire_reason))
    assert (await collect(provider))[-1] == Stop(reason)


def conversation() -> ModelRequest:
    messages = (
        Message("user", (TextPart("Chart the repo."),)),
        Message("assistant", (TextPart("Reading."), ToolCallPart("toolu_1", "read_file", {"path": "a"}))),
        Message("user", (TextPart("Also hurry."), ToolResultPart("toolu_1", "no such file", ok=False))),
    )
    return ModelRequest(model=MODEL, system="System prompt.", messages=messages, tools=TOOLS)


async def test_prompt_caching_marks_system_last_tool_and_last_message_block(server, provider):
    server.enqueue(wire.text_reply("ok"))
    await collect(provider, conversation())
    body = server.requests[0].body
    ephemeral = {"type": "ephemeral"}
    assert body["system"] == [{"type": "text", "text": "System prompt.", "cache_control": ephemeral}]
    assert [t.get("cache_control") for t in body["tools"]] == [None, ephemeral]
    assert body["tools"][0] == {"name": "read_file", "description": "Read a file.", "input_schema": TOOLS[0].parameters}
    marked = [b for m in body["messages"] for b in m["content"] if "cache_control" in b]
    assert marked == [{"type": "text", "text": "Also hurry.", "cache_control": ephemeral}]
    assert str(body).count("cache_control") == 3


async def test_conversation_converts_tool_use_and_tool_result_blocks(server, provider):
    server.enqueue(wire.text_reply("ok"))
    await collect(provider, conversation())
    messages = server.requests[0].body["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Reading."},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
        ],
    }
    assert messages[2]["content"][0] == {
        "type": "tool_result", "tool_use_id": "toolu_1", "is_error": True, "content": "no such file",
    }


def test_caching_off_sends_no_breakpoints():
    params = request_params(conversation(), caching=False)
    assert "cache_control" not in str(params)


async def test_rate_limit_carries_retry_after_then_the_retry_succeeds(server, provider):
    server.enqueue(wire.rate_limited(retry_after="2"), wire.text_reply("Back.", usage=ServerUsage(uncached_input=9, output=2)))
    events, failure = await fail(provider)
    assert (events, failure.kind, failure.retryable, failure.retry_after_s) == ([], "rate_limit", True, 2.0)
    assert "retry after 2 s" in failure.message
    assert 2.0 <= backoff_delay(0, failure.retry_after_s, rng=random.Random(1)) <= 2.2
    events = await collect(provider)
    assert events[-2:] == [UsageReport(Usage(input_tokens=9, output_tokens=2)), Stop("end_turn")]
    assert len(server.requests) == 2


async def test_rate_limit_prefers_retry_after_ms(server, provider):
    server.enqueue(wire.rate_limited(retry_after="7", retry_after_ms="1500"))
    _, failure = await fail(provider)
    assert failure.retry_after_s == 1.5


async def test_http_529_is_overloaded_and_retryable(server, provider):
    server.enqueue(wire.overloaded())
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable, failure.billed) == ("overloaded", True, None)


async def test_in_stream_overloaded_error_reports_what_was_billed(server, provider):
    server.enqueue(wire.in_stream_error("overloaded_error", text="Partial", usage=ServerUsage(uncached_input=300, cache_read=700)))
    events, failure = await fail(provider)
    assert events == [TextDelta("Part"), TextDelta("ial")]
    assert (failure.kind, failure.retryable) == ("overloaded", True)
    assert failure.billed == Usage(input_tokens=1000, output_tokens=1, cache_read_tokens=700)


async def test_in_stream_invalid_request_error_is_not_retryable(server, provider):
    server.enqueue(wire.in_stream_error("invalid_request_error"))
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable) == ("bad_request", False)


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_server_errors_are_retryable(server, provider, status):
    server.enqueue(wire.server_error(status))
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable) == ("server", True)
    assert f"HTTP {status}" in failure.message


async def test_connection_dropped_mid_stream_fails_retryable_with_billed_input(server, provider):
    server.enqueue(wire.dropped("This reply will be cut", usage=ServerUsage(uncached_input=210, cache_write=90)))
    events, failure = await fail(provider)
    assert events == [TextDelta("This r"), TextDelta("eply w")]
    assert (failure.kind, failure.retryable) == ("connection", True)
    assert failure.billed == Usage(input_tokens=300, output_tokens=1, cache_write_tokens=90)


async def test_stream_closed_cleanly_before_message_stop_is_a_connection_failure(server, provider):
    server.enqueue(Stream(wire.text_reply("Cut short", chunks=3).frames[:4]))
    events, failure = await fail(provider)
    assert events == [TextDelta("Cut"), TextDelta(" sh")]
    assert (failure.kind, failure.retryable) == ("connection", True)
    assert "ended before the reply was complete" in failure.message
    assert failure.billed == Usage(input_tokens=25, output_tokens=1)


async def test_no_server_listening_is_a_retryable_connection_failure(server):
    url = server.base_url
    server.stop()
    adapter = AnthropicProvider("claude", api_key=KEY, base_url=url)
    try:
        _, failure = await fail(adapter)
    finally:
        await adapter.aclose()
    assert (failure.kind, failure.retryable, failure.billed) == ("connection", True, None)


async def test_401_fails_at_once_naming_the_env_var(server, provider):
    server.enqueue(wire.unauthorized())
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable) == ("auth", False)
    assert "set MY_CLAUDE_KEY" in failure.message


async def test_missing_key_fails_before_any_request_naming_the_env_var():
    with pytest.raises(ProviderFailure, match="set MY_CLAUDE_KEY") as caught:
        AnthropicProvider("claude", api_key="", api_key_env="MY_CLAUDE_KEY")
    assert caught.value.kind == "auth"


async def test_malformed_event_is_a_retryable_server_failure(server, provider):
    server.enqueue(wire.malformed("Half"))
    events, failure = await fail(provider)
    assert events == [TextDelta("Half")]
    assert (failure.kind, failure.retryable) == ("server", True)
    assert "malformed stream event" in failure.message


async def test_prompt_too_long_is_context_length(server, provider):
    server.enqueue(wire.context_too_long())
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable) == ("context_length", False)


async def test_extra_headers_are_sent(server):
    adapter = AnthropicProvider("claude", api_key=KEY, base_url=server.base_url, headers={"x-team": "charts"})
    server.enqueue(wire.text_reply("ok"))
    try:
        await collect(adapter)
    finally:
        await adapter.aclose()
    assert server.requests[0].headers["x-team"] == "charts"


async def test_cancelling_the_consumer_closes_the_http_stream_at_once(server, provider):
    server.enqueue(wire.slow(pieces=400, gap_s=0.05))
    assert await fakes.cancel_mid_stream(provider, REQUEST, server) < 1.0


async def test_leaving_an_aclosing_block_early_closes_the_http_stream(server, provider):
    server.enqueue(wire.slow(pieces=400, gap_s=0.05))
    async with aclosing(provider.stream(REQUEST)) as events:
        async for _ in events:
            break
    left_at = time.monotonic()
    hung_up = await asyncio.to_thread(server.wait_for_disconnect, 10)
    assert hung_up is not None and hung_up - left_at < 1.0


async def test_planted_key_appears_in_no_failure_text_repr_traceback_or_log(server, provider, caplog):
    caplog.set_level(logging.DEBUG)
    echoes = [wire.error_reply(401, "authentication_error", f"key {KEY} revoked"),
              wire.error_reply(400, "invalid_request_error", f"header was Bearer {KEY}")]
    server.enqueue(*echoes, wire.server_error(), wire.malformed(), wire.dropped(), wire.rate_limited())
    failures = [(await fail(provider))[1] for _ in range(6)]
    url = server.base_url
    server.stop()
    unreachable = AnthropicProvider("claude", api_key=KEY, base_url=url)
    try:
        failures.append((await fail(unreachable))[1])
    finally:
        await unreachable.aclose()
    texts = [repr(provider), caplog.text, *fakes.texts_of(*failures)]
    assert "Sending HTTP Request" in caplog.text
    assert [f.kind for f in failures] == ["auth", "bad_request", "server", "server", "connection", "rate_limit", "connection"]
    assert not [t for t in texts if KEY in t]


def test_importing_the_adapters_and_pricing_loads_no_sdk():
    code = (
        "import sys, agents.providers.anthropic, agents.providers.openai, agents.pricing, agents.providers.retry;"
        "print(sorted(m for m in ('anthropic', 'openai', 'httpx2', 'genai_prices') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
