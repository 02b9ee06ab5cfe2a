"""What real gateways do, reproduced by the fake servers, through the real SDKs: costs, whole JSON replies, error pages, URLs."""

from __future__ import annotations

import socket

import pytest

from tokenmaxx.agents.providers.anthropic import AnthropicProvider
from tokenmaxx.agents.providers.base import (
    Message,
    ModelRequest,
    ProviderNotice,
    Stop,
    TextDelta,
    TextPart,
    ToolCallRequested,
    Usage,
    UsageReport,
)
from tokenmaxx.agents.providers.errors import redact
from tokenmaxx.agents.providers.openai import OpenAIProvider
from tests import fakes
from tests.fakes import Call, ServerUsage, Status
from tests.fakes import anthropic_server as anthropic_wire
from tests.fakes import openai_server as wire
from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.openai_server import OpenAIFakeServer

KEY = "sk-gateway-planted-3c9e7a1b"
REQUEST = ModelRequest(model="openai/gpt-4o-mini", system="You check facts.", messages=(Message("user", (TextPart("Check."),)),))


@pytest.fixture
def server():
    with OpenAIFakeServer() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
async def provider(server):
    adapter = OpenAIProvider("gateway", api_key=KEY, base_url=server.base_url, api_key_env="GATEWAY_KEY")
    yield adapter
    await adapter.aclose()


def usage_report(events: list[object]) -> Usage:
    return next(e.usage for e in events if isinstance(e, UsageReport))


@pytest.mark.parametrize("builder", [wire.costed_reply, wire.openrouter_reply])
async def test_a_cost_the_server_reports_is_kept_beside_the_tokens(server, provider, builder):
    server.enqueue(builder("Priced.", usage=ServerUsage(uncached_input=40, output=7), cost=0.000123))
    usage = usage_report(await fakes.collect(provider, REQUEST))
    assert usage == Usage(input_tokens=40, output_tokens=7, server_cost_usd=0.000123)


async def test_a_whole_json_reply_to_a_streaming_request_is_used_and_said(server, provider):
    server.enqueue(wire.whole_json("Whole answer.", usage=ServerUsage(uncached_input=30, output=4)))
    events = await fakes.collect(provider, REQUEST)
    assert isinstance(events[0], ProviderNotice) and "not a stream" in events[0].text
    assert events[1:] == [TextDelta("Whole answer."), UsageReport(Usage(input_tokens=30, output_tokens=4)), Stop("end_turn")]


async def test_a_whole_json_reply_with_tool_calls_requests_them(server, provider):
    server.enqueue(wire.whole_json("", calls=(Call("call_1", "read_file", {"path": "a.md"}),)))
    events = await fakes.collect(provider, REQUEST)
    assert ToolCallRequested("call_1", "read_file", {"path": "a.md"}) in events
    assert events[-1] == Stop("tool_use")


async def test_a_whole_json_message_on_the_anthropic_path_is_used_too():
    with AnthropicFakeServer() as server:
        server.enqueue(anthropic_wire.whole_json("Whole.", usage=ServerUsage(uncached_input=20, output=3, cache_read=5)))
        adapter = AnthropicProvider("claude", api_key=KEY, base_url=server.base_url)
        events = await fakes.collect(adapter, REQUEST)
        await adapter.aclose()
    assert isinstance(events[0], ProviderNotice)
    assert events[1:] == [
        TextDelta("Whole."),
        UsageReport(Usage(input_tokens=25, output_tokens=3, cache_read_tokens=5)),
        Stop("end_turn"),
    ]


async def test_a_501_html_page_is_summarised_and_not_retried(server, provider):
    server.enqueue(wire.html_error(501))
    _, failure = await fakes.collect_until_failure(provider, REQUEST)
    assert not failure.retryable
    assert "HTML error page" in failure.message and "<" not in failure.message
    assert "(HTTP 501)" in failure.message


async def test_a_status_code_the_gateway_repeats_as_its_type_is_said_once_and_waits_round(server, provider):
    body = {"error": {"message": "No deployments available", "type": None, "param": None, "code": "429"}}
    server.enqueue(Status(429, body, {"retry-after": "0.813022"}))
    _, failure = await fakes.collect_until_failure(provider, REQUEST)
    assert "(HTTP 429)" in failure.message and "429, 429" not in failure.message
    assert failure.message.endswith("retry after 0.8 s") and failure.retry_after_s == 0.813022


async def test_a_404_for_a_base_url_without_v1_names_the_url_and_suggests_v1(server):
    adapter = OpenAIProvider("ollama", api_key=KEY, base_url=server.base_url.removesuffix("/v1"))
    server.enqueue(wire.not_found())
    _, failure = await fakes.collect_until_failure(adapter, REQUEST)
    await adapter.aclose()
    port = server.base_url.split(":")[2].split("/")[0]
    assert f"http://127.0.0.1:{port}/chat/completions" in failure.message
    assert "missing /v1" in failure.message


async def test_a_refused_connection_names_the_url_without_credentials():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = OpenAIProvider("local", api_key=KEY, base_url=f"http://user:pw@127.0.0.1:{port}/v1")
    _, failure = await fakes.collect_until_failure(adapter, REQUEST)
    await adapter.aclose()
    assert failure.kind == "connection"
    assert f"http://127.0.0.1:{port}/v1/chat/completions" in failure.message
    assert "pw" not in failure.message


async def test_a_stream_cut_on_the_openai_path_is_billed(server, provider):
    server.enqueue(wire.dropped("This reply will be cut"))
    events, failure = await fakes.collect_until_failure(provider, REQUEST)
    assert any(isinstance(e, TextDelta) for e in events)
    assert failure.billed == Usage()


async def test_a_first_event_with_no_input_is_billed_with_input_unknown():
    with AnthropicFakeServer() as server:
        server.enqueue(anthropic_wire.zero_input_start(usage=ServerUsage(uncached_input=300, output=9), cut=True))
        adapter = AnthropicProvider("claude", api_key=KEY, base_url=server.base_url)
        _, failure = await fakes.collect_until_failure(adapter, REQUEST)
        await adapter.aclose()
    assert failure.billed is not None and failure.billed.input_tokens == 0


async def test_the_real_input_of_a_late_counting_stream_is_used():
    with AnthropicFakeServer() as server:
        server.enqueue(anthropic_wire.zero_input_start(usage=ServerUsage(uncached_input=300, output=9)))
        adapter = AnthropicProvider("claude", api_key=KEY, base_url=server.base_url)
        events = await fakes.collect(adapter, REQUEST)
        await adapter.aclose()
    assert usage_report(events) == Usage(input_tokens=300, output_tokens=9)


async def test_arguments_that_are_not_json_keep_their_text(server, provider):
    server.enqueue(wire.tool_reply(Call("call_x", "read_file", '{"path": "a'), pieces=2))
    events = await fakes.collect(provider, REQUEST)
    assert ToolCallRequested("call_x", "read_file", {}, raw_args='{"path": "a') in events


def test_redact_leaves_a_placeholder_word_and_removes_a_real_key():
    text = "openai provider 'local' (model qwen3:8b): connection failed; local key sk-live-0123456789abcdef"
    assert redact(text, "local") == text
    assert redact(text, "sk-live-0123456789abcdef").endswith("local key [redacted]")
