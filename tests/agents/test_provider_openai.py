"""The OpenAI adapter driven through the real SDK against a fake Chat Completions server on 127.0.0.1."""

from __future__ import annotations

import json
import logging

import genai_prices
import pytest

from tokenmaxx.agents.pricing import price_usage
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
from tokenmaxx.agents.providers.openai import OpenAIProvider, request_params

from tests import fakes
from tests.fakes import Call, ServerUsage, Stream
from tests.fakes import openai_server as wire
from tests.fakes.openai_server import OpenAIFakeServer

KEY = "sk-proj-planted-8d1e5a03c7"
MODEL = "gpt-4o"
TOOLS = (ToolSpec("read_file", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}}),)
REQUEST = ModelRequest(model=MODEL, system="You check facts.", messages=(Message("user", (TextPart("Check."),)),), tools=TOOLS)


@pytest.fixture
def server():
    with OpenAIFakeServer() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
async def provider(server):
    adapter = OpenAIProvider("gpt", api_key=KEY, base_url=server.base_url, api_key_env="MY_OPENAI_KEY")
    yield adapter
    await adapter.aclose()


async def collect(provider: OpenAIProvider, request: ModelRequest = REQUEST) -> list[ProviderEvent]:
    return await fakes.collect(provider, request)


async def fail(provider: OpenAIProvider, request: ModelRequest = REQUEST) -> tuple[list[ProviderEvent], ProviderFailure]:
    return await fakes.collect_until_failure(provider, request)


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
    assert request.path == "/v1/chat/completions"
    assert request.body["stream"] is True and request.body["stream_options"] == {"include_usage": True}
    assert request.body["max_tokens"] == 4096
    assert request.headers["authorization"] == f"Bearer {KEY}"


async def test_cached_and_reasoning_tokens_map_and_cost_what_genai_prices_says(server, provider):
    usage = ServerUsage(uncached_input=500, output=80, cache_read=1500, reasoning=60)
    server.enqueue(wire.text_reply("ok", usage=usage))
    events = await collect(provider)
    reported = next(e.usage for e in events if isinstance(e, UsageReport))
    assert reported == Usage(input_tokens=2000, output_tokens=80, cache_read_tokens=1500, reasoning_tokens=60)
    priced = genai_prices.Usage(input_tokens=2000, output_tokens=80, cache_read_tokens=1500, cache_write_tokens=0)
    expected = float(genai_prices.calc_price(priced, MODEL).total_price)
    assert provider.price_provider_id is None
    assert price_usage(reported, MODEL, provider.price_provider_id) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx((500 * 2.5 + 1500 * 1.25 + 80 * 10) / 1e6, rel=1e-9)


async def test_tool_call_arguments_streamed_in_pieces_arrive_whole(server, provider):
    server.enqueue(wire.tool_reply(Call("call_1", "read_file", {"path": "notes.md", "lines": [1, 9]}), pieces=6))
    events = await collect(provider)
    assert events[0] == ToolCallRequested("call_1", "read_file", {"path": "notes.md", "lines": [1, 9]})
    assert events[-1] == Stop("tool_use")


async def test_two_tool_calls_interleaved_by_index_are_joined_per_index(server, provider):
    calls = (Call("call_a", "read_file", {"path": "a.txt"}), Call("call_b", "read_file", {"path": "b/c.txt"}))
    reply = wire.tool_reply(*calls, text="Two files.", pieces=3)
    chunks = [json.loads(f.removeprefix("data: ")) for f in reply.frames if f != "data: [DONE]\n\n"]
    pieces = [p for c in chunks for ch in c["choices"] for p in ch["delta"].get("tool_calls", []) if "id" not in p]
    assert [p["index"] for p in pieces] == [0, 1, 0, 1, 0, 1]
    server.enqueue(reply)
    events = await collect(provider)
    assert events == [
        TextDelta("Two files."),
        ToolCallRequested("call_a", "read_file", {"path": "a.txt"}),
        ToolCallRequested("call_b", "read_file", {"path": "b/c.txt"}),
        UsageReport(Usage(input_tokens=25, output_tokens=12)),
        Stop("tool_use"),
    ]


async def test_arguments_that_are_not_json_become_empty_args_with_their_text_kept(server, provider):
    server.enqueue(wire.tool_reply(Call("call_x", "read_file", '{"path": "a'), pieces=2))
    events = await collect(provider)
    assert ToolCallRequested("call_x", "read_file", {}, raw_args='{"path": "a') in events


async def test_whole_calls_without_index_and_finish_stop_still_stop_for_tool_use(server, provider):
    whole = [{"id": f"call_{n}", "type": "function", "function": {"name": "read_file", "arguments": f'{{"path": "{n}"}}'}}
             for n in ("a", "b")]
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
             "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": whole}, "finish_reason": "stop"}]}
    server.enqueue(Stream((fakes.sse(chunk), fakes.sse("[DONE]"))))
    assert await collect(provider) == [
        ToolCallRequested("call_a", "read_file", {"path": "a"}),
        ToolCallRequested("call_b", "read_file", {"path": "b"}),
        Stop("tool_use"),
    ]


async def test_a_server_without_usage_yields_no_usage_report(server, provider):
    frames = tuple(f for f in wire.text_reply("Hi").frames if '"usage"' not in f)
    server.enqueue(Stream(frames))
    assert await collect(provider) == [TextDelta("H"), TextDelta("i"), Stop("end_turn")]


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_tokens"), ("content_filter", "refusal"), ("weird", "other")])
async def test_finish_reasons_are_mapped(server, provider, finish, reason):
    server.enqueue(wire.text_reply("x", stop_reason=finish))
    assert (await collect(provider))[-1] == Stop(reason)


def conversation() -> ModelRequest:
    messages = (
        Message("user", (TextPart("Check the claims."),)),
        Message("assistant", (ToolCallPart("call_1", "read_file", {"path": "a"}), ToolCallPart("call_2", "read_file", {"path": "b"}))),
        Message("user", (ToolResultPart("call_1", "claim: 42"), ToolResultPart("call_2", "missing", ok=False), TextPart("Hurry."))),
    )
    return ModelRequest(model=MODEL, system="Be careful.", messages=messages, tools=TOOLS, max_tokens=900)


async def test_conversation_converts_to_system_assistant_tool_calls_and_tool_messages(server, provider):
    server.enqueue(wire.text_reply("ok"))
    await collect(provider, conversation())
    body = server.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Be careful."},
        {"role": "user", "content": "Check the claims."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "a"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "read_file", "arguments": '{"path": "b"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "claim: 42"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Error: missing"},
        {"role": "user", "content": "Hurry."},
    ]
    assert body["tools"] == [{"type": "function", "function": {"name": "read_file", "description": "Read a file.",
                                                               "parameters": TOOLS[0].parameters}}]
    assert body["max_tokens"] == 900


def test_openai_itself_gets_max_completion_tokens():
    params = request_params(conversation(), official=True)
    assert params["max_completion_tokens"] == 900 and "max_tokens" not in params


@pytest.mark.parametrize(
    ("base_url", "provider_id"),
    [(None, "openai"), ("https://openrouter.ai/api/v1", "openrouter"), ("https://api.z.ai/api/paas/v4", "zai"),
     ("http://127.0.0.1:11434/v1", None)],
)
def test_price_provider_follows_the_base_url(base_url, provider_id):
    assert OpenAIProvider("p", api_key="x", base_url=base_url).price_provider_id == provider_id


async def test_rate_limit_carries_retry_after_then_the_retry_succeeds(server, provider):
    server.enqueue(wire.rate_limited(retry_after="3"), wire.text_reply("Back."))
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable, failure.retry_after_s) == ("rate_limit", True, 3.0)
    assert (await collect(provider))[-1] == Stop("end_turn")


async def test_http_503_is_overloaded_and_retryable(server, provider):
    server.enqueue(wire.overloaded())
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable) == ("overloaded", True)


async def test_http_500_is_a_retryable_server_failure(server, provider):
    server.enqueue(wire.server_error(500))
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable) == ("server", True)


async def test_in_stream_error_chunk_is_a_retryable_server_failure(server, provider):
    server.enqueue(wire.in_stream_error("server_error", text="Partial"))
    events, failure = await fail(provider)
    assert events == [TextDelta("Partial")]
    assert (failure.kind, failure.retryable, failure.billed) == ("server", True, Usage())


async def test_connection_dropped_mid_stream_fails_retryable(server, provider):
    server.enqueue(wire.dropped("This reply will be cut"))
    events, failure = await fail(provider)
    assert events == [TextDelta("This r"), TextDelta("eply w")]
    assert (failure.kind, failure.retryable, failure.billed) == ("connection", True, Usage())


async def test_stream_closed_before_finish_reason_is_a_connection_failure(server, provider):
    server.enqueue(Stream(wire.text_reply("Cut short", chunks=3).frames[:3]))
    events, failure = await fail(provider)
    assert events == [TextDelta("Cut"), TextDelta(" sh")]
    assert (failure.kind, failure.retryable) == ("connection", True)


async def test_401_fails_at_once_naming_the_env_var(server, provider):
    server.enqueue(wire.unauthorized())
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable) == ("auth", False)
    assert "set MY_OPENAI_KEY" in failure.message


async def test_malformed_chunk_is_a_retryable_server_failure(server, provider):
    server.enqueue(wire.malformed("Half"))
    events, failure = await fail(provider)
    assert events == [TextDelta("Half")]
    assert (failure.kind, failure.retryable) == ("server", True)
    assert "malformed stream event" in failure.message


async def test_context_length_exceeded_is_context_length(server, provider):
    server.enqueue(wire.context_too_long())
    _, failure = await fail(provider)
    assert (failure.kind, failure.retryable) == ("context_length", False)


async def test_extra_headers_are_sent(server):
    adapter = OpenAIProvider("gpt", api_key=KEY, base_url=server.base_url, headers={"HTTP-Referer": "tokenmaxx"})
    server.enqueue(wire.text_reply("ok"))
    try:
        await collect(adapter)
    finally:
        await adapter.aclose()
    assert server.requests[0].headers["http-referer"] == "tokenmaxx"


async def test_cancelling_the_consumer_closes_the_http_stream_at_once(server, provider):
    server.enqueue(wire.slow(pieces=400, gap_s=0.05))
    assert await fakes.cancel_mid_stream(provider, REQUEST, server) < 1.0


async def test_planted_key_appears_in_no_failure_text_repr_traceback_or_log(server, provider, caplog):
    caplog.set_level(logging.DEBUG)
    echo = wire.error_reply(401, "invalid_request_error", f"Incorrect API key provided: {KEY}")
    server.enqueue(echo, wire.error_reply(400, "invalid_request_error", f"bad {KEY}"), wire.malformed(), wire.dropped())
    failures = [(await fail(provider))[1] for _ in range(4)]
    texts = [repr(provider), caplog.text, *fakes.texts_of(*failures)]
    assert [f.kind for f in failures] == ["auth", "bad_request", "server", "connection"]
    assert "Sending HTTP Request" in caplog.text
    assert not [t for t in texts if KEY in t]
