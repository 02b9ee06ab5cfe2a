"""A fake Anthropic Messages API: `POST /v1/messages` answered with scripted SSE streams.

See tests/fakes/__init__.py for the scripting API. The wire format follows the Messages
streaming protocol: message_start (usage: uncached input, cache creation, cache read, one
output token), content_block_start/delta/stop per block, message_delta (stop reason, final
cumulative output tokens), message_stop.
"""

from __future__ import annotations

import json
from typing import Any

from tests.fakes import Call, FakeServer, ServerUsage, Status, Stream, split_text, sse

MODEL = "claude-sonnet-4-6"


class AnthropicFakeServer(FakeServer):
    """Give `base_url` to `AsyncAnthropic`; it posts to `/v1/messages`."""

    api_prefix = ""


def text_reply(
    text: str, *, chunks: int = 3, usage: ServerUsage = ServerUsage(), stop_reason: str = "end_turn"
) -> Stream:
    """A text answer streamed in `chunks` text_delta events."""
    frames = [_message_start(usage), *_text_block(0, text, chunks), *_finish(stop_reason, usage)]
    return Stream(tuple(frames))


def tool_reply(*calls: Call, text: str = "", pieces: int = 3, usage: ServerUsage = ServerUsage()) -> Stream:
    """Optional text, then one tool_use block per call with its input JSON in `pieces`."""
    frames = [_message_start(usage)]
    index = 0
    if text:
        frames += _text_block(index, text, 2)
        index += 1
    for call in calls:
        frames += _tool_block(index, call, pieces)
        index += 1
    return Stream(tuple(frames + _finish("tool_use", usage)))


def rate_limited(retry_after: str | None = "2", retry_after_ms: str | None = None) -> Status:
    """HTTP 429 with the given Retry-After headers."""
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return Status(429, _error_body("rate_limit_error", "Number of request tokens has exceeded your rate limit"), headers)


def overloaded() -> Status:
    """HTTP 529, the API's overloaded status."""
    return Status(529, _error_body("overloaded_error", "Overloaded"))


def server_error(status: int = 500) -> Status:
    """An HTTP 5xx with an api_error body."""
    return Status(status, _error_body("api_error", "Internal server error"))


def unauthorized() -> Status:
    """HTTP 401, a rejected key."""
    return Status(401, _error_body("authentication_error", "invalid x-api-key"))


def error_reply(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> Status:
    """Any error status with the API's JSON error body."""
    return Status(status, _error_body(error_type, message), headers or {})


def context_too_long() -> Status:
    """HTTP 400 saying the prompt exceeds the context window."""
    return error_reply(400, "invalid_request_error", "prompt is too long: 214000 tokens > 200000 maximum")


def in_stream_error(
    error_type: str = "overloaded_error", *, text: str = "Partial", usage: ServerUsage = ServerUsage()
) -> Stream:
    """A stream that starts a reply, then sends `event: error`."""
    frames = [_message_start(usage), *_text_block(0, text, 2, stop=False)]
    frames.append(sse(_error_body(error_type, "Overloaded" if error_type == "overloaded_error" else error_type), "error"))
    return Stream(tuple(frames))


def dropped(text: str = "This reply will be cut", *, usage: ServerUsage = ServerUsage()) -> Stream:
    """A stream cut halfway through its fourth frame: message_start and two text deltas got out."""
    frames = [_message_start(usage), *_text_block(0, text, 4), *_finish("end_turn", usage)]
    return Stream(tuple(frames), drop_after=4)


def zero_input_start(text: str = "Counted late", *, usage: ServerUsage = ServerUsage(), cut: bool = False) -> Stream:
    """LiteLLM's /v1/messages: message_start says input_tokens 0, message_delta carries the real input; `cut` drops the stream before it."""
    frames = [_message_start(ServerUsage(uncached_input=0, output=1)), *_text_block(0, text, 2)]
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"input_tokens": usage.uncached_input, "output_tokens": usage.output},
    }
    frames += [sse(delta, "message_delta"), sse({"type": "message_stop"}, "message_stop")]
    return Stream(tuple(frames), drop_after=len(frames) - 2 if cut else None)


def whole_json(text: str, *, usage: ServerUsage = ServerUsage()) -> Status:
    """LiteLLM for some models: one `message` JSON body (HTTP 200) answering a streaming request."""
    body = {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage.uncached_input,
            "cache_creation_input_tokens": usage.cache_write,
            "cache_read_input_tokens": usage.cache_read,
            "output_tokens": usage.output,
        },
    }
    return Status(200, body)


def malformed(text: str = "Half", *, usage: ServerUsage = ServerUsage()) -> Stream:
    """A stream whose second content event is not JSON."""
    frames = [_message_start(usage), *_text_block(0, text, 1, stop=False)]
    frames.append(sse('{"type": "content_block_delta", "index": 0, "delta": {', "content_block_delta"))
    return Stream(tuple(frames + _finish("end_turn", usage)))


def slow(pieces: int = 400, gap_s: float = 0.05) -> Stream:
    """A long text reply with `gap_s` seconds before each event."""
    usage = ServerUsage()
    frames = [_message_start(usage), *_text_block(0, "tick " * pieces, pieces), *_finish("end_turn", usage)]
    return Stream(tuple(frames), gap_s=gap_s)


def _message_start(usage: ServerUsage) -> str:
    message = {
        "id": "msg_fake01",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage.uncached_input,
            "cache_creation_input_tokens": usage.cache_write,
            "cache_read_input_tokens": usage.cache_read,
            "output_tokens": 1,
        },
    }
    return sse({"type": "message_start", "message": message}, "message_start")


def _text_block(index: int, text: str, chunks: int, *, stop: bool = True) -> list[str]:
    frames = [_block_start(index, {"type": "text", "text": ""})]
    for part in split_text(text, chunks):
        frames.append(_delta(index, {"type": "text_delta", "text": part}))
    return frames + ([_block_stop(index)] if stop else [])


def _tool_block(index: int, call: Call, pieces: int) -> list[str]:
    frames = [_block_start(index, {"type": "tool_use", "id": call.id, "name": call.name, "input": {}})]
    for part in split_text(_arguments(call), pieces):
        frames.append(_delta(index, {"type": "input_json_delta", "partial_json": part}))
    return frames + [_block_stop(index)]


def _finish(stop_reason: str, usage: ServerUsage) -> list[str]:
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": usage.output},
    }
    if usage.reasoning:
        delta["usage"]["output_tokens_details"] = {"thinking_tokens": usage.reasoning}
    return [sse(delta, "message_delta"), sse({"type": "message_stop"}, "message_stop")]


def _block_start(index: int, block: dict[str, Any]) -> str:
    return sse({"type": "content_block_start", "index": index, "content_block": block}, "content_block_start")


def _delta(index: int, delta: dict[str, Any]) -> str:
    return sse({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")


def _block_stop(index: int) -> str:
    return sse({"type": "content_block_stop", "index": index}, "content_block_stop")


def _error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def _arguments(call: Call) -> str:
    return call.args if isinstance(call.args, str) else json.dumps(call.args)
