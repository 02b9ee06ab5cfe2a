"""The providers' raw-bytes parse against the SDKs' own: split, merged and malformed SSE events give the same events.

Each example is a stream of events (well-formed chunks, comments, pings, errors, data that
is not JSON), written with mixed line ends and cut into reads at arbitrary bytes; both the
provider and the SDK's model stream (tests/agents/sdk_oracle.py) read it from the same
in-memory transport, and what each yields (events, then the failure or the stop) must match.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenmaxx.agents.providers.anthropic import AnthropicProvider, _Reply
from tokenmaxx.agents.providers.base import Message, ModelRequest, ProviderFailure, TextDelta, TextPart
from tokenmaxx.agents.providers.openai import OpenAIProvider
from tokenmaxx.agents.providers.sse import SseDecoder
from tests.agents.sdk_oracle import described, sdk_outcome

REQUEST = ModelRequest(model="m", system="s", messages=(Message("user", (TextPart("hi"),)),))
FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
counts = st.integers(min_value=0, max_value=10_000)
malformed = st.sampled_from(["{not json", '{"choices": [', "nan nan", "\u00e9t\u00e9"])
endings = st.sampled_from(["\n", "\r\n", "\r"])


def _chunk(choices: list[Any], **extra: Any) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": choices, **extra}


def _delta(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return _chunk([{"index": 0, "delta": delta, "finish_reason": finish}])


openai_data = st.one_of(
    text.map(lambda t: _delta({"role": "assistant", "content": t})),
    st.tuples(st.integers(0, 2), st.sampled_from(["", "call_1"]), text, text).map(
        lambda c: _delta({"tool_calls": [{"index": c[0], "id": c[1] or None, "type": "function",
                                          "function": {"name": c[2] or None, "arguments": c[3]}}]})
    ),
    st.sampled_from(["stop", "tool_calls", "length", "content_filter", "other"]).map(lambda r: _delta({}, r)),
    st.tuples(counts, counts, counts, counts, st.none() | st.floats(0, 5)).map(
        lambda u: _chunk([], usage={"prompt_tokens": u[0], "completion_tokens": u[1], "total_tokens": 0,
                                    "prompt_tokens_details": {"cached_tokens": u[2]},
                                    "completion_tokens_details": {"reasoning_tokens": u[3]},
                                    **({"cost": u[4]} if u[4] is not None else {})})
    ),
    st.sampled_from(["server_error", "rate_limit_exceeded", None]).map(
        lambda kind: {"error": {"message": "busy", "type": kind, "code": None}}
    ),
)


def _anthropic(kind: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return kind, {"type": kind, **fields}


_USAGE = st.fixed_dictionaries(
    {"input_tokens": counts, "output_tokens": counts},
    optional={"cache_creation_input_tokens": counts, "cache_read_input_tokens": counts},
)
anthropic_event = st.one_of(
    _USAGE.map(lambda u: _anthropic("message_start", message={
        "id": "m1", "type": "message", "role": "assistant", "model": "m", "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": u})),
    st.tuples(st.integers(0, 2), st.booleans()).map(lambda b: _anthropic(
        "content_block_start", index=b[0],
        content_block={"type": "tool_use", "id": "tu1", "name": "read", "input": {}} if b[1] else {"type": "text", "text": ""})),
    st.tuples(st.integers(0, 2), text).map(lambda d: _anthropic(
        "content_block_delta", index=d[0], delta={"type": "text_delta", "text": d[1]})),
    st.tuples(st.integers(0, 2), text).map(lambda d: _anthropic(
        "content_block_delta", index=d[0], delta={"type": "input_json_delta", "partial_json": d[1]})),
    st.integers(0, 2).map(lambda i: _anthropic("content_block_stop", index=i)),
    st.tuples(st.sampled_from(["end_turn", "tool_use", "max_tokens", "refusal", None]), counts).map(lambda d: _anthropic(
        "message_delta", delta={"stop_reason": d[0], "stop_sequence": None}, usage={"output_tokens": d[1]})),
    st.just(_anthropic("message_stop")),
    st.just(_anthropic("ping")),
    st.sampled_from(["overloaded_error", "api_error"]).map(
        lambda kind: ("error", {"type": "error", "error": {"type": kind, "message": "Overloaded"}})),
)


def _frame(name: str | None, data: str, extras: tuple[bool, bool, bool], end: str) -> str:
    """One event as wire text: maybe a comment and a retry line, maybe a name, the data, maybe extra blank lines."""
    comment, retry, blank = extras
    lines = [": keep-alive"] * comment + ["retry: 100"] * retry + ([f"event: {name}"] if name else []) + [f"data: {data}"]
    return end.join(lines) + end + end + end * blank


flags = st.tuples(st.booleans(), st.booleans(), st.booleans())
openai_frames = st.lists(
    st.tuples(st.one_of(openai_data.map(json.dumps), malformed), flags, endings).map(
        lambda f: _frame(None, f[0], f[1], f[2])), max_size=12,
).map(lambda frames: "".join(frames) + "data: [DONE]\n\n")
dumps = st.sampled_from([
    json.dumps, lambda o: json.dumps(o, separators=(",", ":")), lambda o: json.dumps(o, separators=(",", ":"), ensure_ascii=False),
])
anthropic_frames = st.lists(
    st.tuples(st.one_of(st.tuples(anthropic_event, dumps).map(lambda e: (e[0][0], e[1](e[0][1]))), malformed.map(lambda m: ("content_block_delta", m)),
                        text.map(lambda t: (None, json.dumps({"type": "unnamed", "text": t})))), flags, endings).map(
        lambda f: _frame(f[0][0], f[0][1], f[1], f[2])), max_size=12,
).map("".join)


def _reads(wire: bytes, cuts: list[int]) -> list[bytes]:
    """`wire` cut into reads at the given byte offsets (merged events and split ones alike)."""
    points = sorted({0, len(wire), *(c % (len(wire) + 1) for c in cuts)})
    return [wire[a:b] for a, b in zip(points, points[1:])]


class _Reads(httpx2.AsyncByteStream):
    def __init__(self, reads: list[bytes]) -> None:
        self.reads = reads

    async def __aiter__(self) -> Any:
        for read in self.reads:
            yield read


def _transport(reads: list[bytes]) -> httpx2.MockTransport:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=_Reads(reads))

    return httpx2.MockTransport(answer)


def _provider(kind: str, reads: list[bytes]) -> Any:
    import anthropic
    import openai

    client = httpx2.AsyncClient(transport=_transport(reads))
    if kind == "openai":
        provider: Any = OpenAIProvider("fuzz", api_key="x", base_url="http://fuzz.test/v1")
        provider._client = openai.AsyncOpenAI(api_key="x", base_url="http://fuzz.test/v1", max_retries=0, http_client=client)
    else:
        provider = AnthropicProvider("fuzz", api_key="x", base_url="http://fuzz.test")
        provider._client = anthropic.AsyncAnthropic(api_key="x", base_url="http://fuzz.test", max_retries=0, http_client=client)
    return provider


async def _raw_outcome(provider: Any) -> list[Any]:
    out: list[Any] = []
    try:
        async for event in provider.stream(REQUEST):
            out.append(event)
    except ProviderFailure as failure:
        out.append(described(failure))
    return out


async def _both(kind: str, reads: list[bytes]) -> tuple[list[Any], list[Any]]:
    provider = _provider(kind, reads)
    try:
        return await _raw_outcome(provider), await sdk_outcome(provider, REQUEST)
    finally:
        await provider.aclose()


@FUZZ
@given(openai_frames, st.lists(st.integers(0, 10_000), max_size=8))
def test_openai_raw_parse_matches_the_sdks(wire: str, cuts: list[int]) -> None:
    raw, sdk = asyncio.run(_both("openai", _reads(wire.encode(), cuts)))
    assert raw == sdk


@FUZZ
@given(anthropic_frames, st.lists(st.integers(0, 10_000), max_size=8))
def test_anthropic_raw_parse_matches_the_sdks(wire: str, cuts: list[int]) -> None:
    raw, sdk = asyncio.run(_both("anthropic", _reads(wire.encode(), cuts)))
    assert raw == sdk


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([None, "delta"]), text), max_size=6), endings, st.lists(st.integers(0, 500)))
def test_decoder_events_do_not_depend_on_where_reads_are_cut(events: list[Any], end: str, cuts: list[int]) -> None:
    wire = "".join(_frame(name, json.dumps(data), (False, False, False), end) for name, data in events).encode()
    decoder = SseDecoder()
    decoded = [event for read in _reads(wire, cuts) for event in decoder.feed(read)]
    assert decoded == [(name, json.dumps(data)) for name, data in events]


async def test_a_streamed_reply_is_read_without_the_sdks_model_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    import anthropic
    import openai

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the reply was read through the SDK's model stream, a pydantic model per chunk")

    for sdk in (openai, anthropic):
        monkeypatch.setattr(sdk.AsyncStream, "__aiter__", refused)
        monkeypatch.setattr(sdk.AsyncStream, "__anext__", refused)
    openai_wire = _frame(None, json.dumps(_delta({"content": "hi"}, "stop")), (False, False, False), "\n") + "data: [DONE]\n\n"
    anthropic_wire = "".join(_frame(name, json.dumps(data), (False, False, False), "\n") for name, data in (
        _anthropic("content_block_delta", index=0, delta={"type": "text_delta", "text": "hi"}),
        _anthropic("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 1}),
    ))
    for kind, wire in (("openai", openai_wire), ("anthropic", anthropic_wire)):
        provider = _provider(kind, [wire.encode()])
        try:
            assert (await _raw_outcome(provider))[0] == TextDelta("hi")
        finally:
            await provider.aclose()


tricky_text = st.one_of(text, st.sampled_from(['"', "\\", '\\"}}', "}}", "\x7f", "\u2028", "\x00", "\ud83d\ude00", " tok"]))
indexes = st.sampled_from(["0", "2", "10", "01", "-1", "1.0", "", " 1", "\u0661"])


def _read(data: str, parse: Any) -> Any:
    try:
        return parse(data)
    except ValueError as err:
        return type(err).__name__


@settings(max_examples=400, deadline=None)
@given(indexes, tricky_text, st.booleans(), st.sampled_from(["", " ", "}"]))
def test_a_text_delta_read_without_json_loads_is_what_json_loads_reads(index: str, said: str, ascii: bool, tail: str) -> None:
    data = (f'{{"type":"content_block_delta","index":{index},"delta":{{"type":"text_delta","text":'
            f'{json.dumps(said, ensure_ascii=ascii)}}}}}{tail}')
    fast = _read(data, lambda d: _Reply().feed("content_block_delta", d))
    assert fast == _read(data, lambda d: _Reply()._payload(json.loads(d)))
