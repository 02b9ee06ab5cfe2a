"""A fake OpenAI Chat Completions API: `POST /v1/chat/completions` answered with scripted SSE.

See tests/fakes/__init__.py for the scripting API. The wire format: `data: <chunk>` frames
whose `choices[0].delta` carries content or `tool_calls[i]` pieces (the first piece of a call
has its id and name, later ones argument fragments, calls interleaved by index), a chunk
with `finish_reason`, a final chunk with empty `choices` and the usage (sent because the
client asks for `stream_options.include_usage`), then `data: [DONE]`.
"""

from __future__ import annotations

import json
from itertools import zip_longest
from typing import Any

from tests.fakes import Call, FakeServer, ServerUsage, Status, Stream, split_text, sse

MODEL = "gpt-4o"
GATEWAY_MODELS = ("openai/gpt-4o-mini", "anthropic/claude-haiku-4-5", "azure/gpt-4o-mini")
"""Model names as LiteLLM and OpenRouter route them: `provider/model`."""


class OpenAIFakeServer(FakeServer):
    """Give `base_url` (which ends in /v1) to `AsyncOpenAI`."""

    api_prefix = "/v1"


def text_reply(
    text: str, *, chunks: int = 3, usage: ServerUsage = ServerUsage(), stop_reason: str = "stop"
) -> Stream:
    """A text answer streamed in `chunks` content deltas."""
    frames = [_chunk({"role": "assistant", "content": ""})]
    frames += [_chunk({"content": part}) for part in split_text(text, chunks)]
    return Stream(tuple(frames + _finish(stop_reason, usage)))


def tool_reply(*calls: Call, text: str = "", pieces: int = 3, usage: ServerUsage = ServerUsage()) -> Stream:
    """Optional text, then the calls' ids and names, then their argument fragments interleaved."""
    frames = [_chunk({"role": "assistant", "content": text or None})]
    for index, call in enumerate(calls):
        head = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
        frames.append(_chunk({"tool_calls": [head]}))
    fragments = [split_text(_arguments(call), pieces) for call in calls]
    for row in zip_longest(*fragments):
        for index, part in enumerate(row):
            if part is not None:
                frames.append(_chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
    return Stream(tuple(frames + _finish("tool_calls", usage)))


def rate_limited(retry_after: str | None = "2", retry_after_ms: str | None = None) -> Status:
    """HTTP 429 with the given Retry-After headers."""
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return Status(429, _error_body("Rate limit reached for requests", "requests", "rate_limit_exceeded"), headers)


def overloaded() -> Status:
    """HTTP 503, what OpenAI-compatible servers send when they are overloaded."""
    return Status(503, _error_body("The engine is currently overloaded, please try again later", "server_error"))


def server_error(status: int = 500) -> Status:
    """An HTTP 5xx with a server_error body."""
    return Status(status, _error_body("The server had an error while processing your request", "server_error"))


def unauthorized() -> Status:
    """HTTP 401, a rejected key."""
    return Status(401, _error_body("Incorrect API key provided", "invalid_request_error", "invalid_api_key"))


def error_reply(status: int, error_type: str, message: str, headers: dict[str, str] | None = None) -> Status:
    """Any error status with the API's JSON error body."""
    return Status(status, _error_body(message, error_type), headers or {})


def context_too_long() -> Status:
    """HTTP 400 with code context_length_exceeded."""
    message = "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens."
    return Status(400, _error_body(message, "invalid_request_error", "context_length_exceeded"))


def in_stream_error(error_type: str = "server_error", *, text: str = "Partial", usage: ServerUsage = ServerUsage()) -> Stream:
    """A stream that starts a reply, then sends an `{"error": ...}` chunk."""
    frames = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": text})]
    frames.append(sse({"error": {"message": "The server had an error", "type": error_type}}))
    return Stream(tuple(frames))


def dropped(text: str = "This reply will be cut", *, usage: ServerUsage = ServerUsage()) -> Stream:
    """A stream cut halfway through its fourth frame: three content chunks got out (a proxy killed mid-reply)."""
    reply = text_reply(text, chunks=4, usage=usage)
    return Stream(reply.frames, drop_after=3)


def malformed(text: str = "Half", *, usage: ServerUsage = ServerUsage()) -> Stream:
    """A stream whose third chunk is not JSON."""
    frames = [_chunk({"role": "assistant", "content": ""}), _chunk({"content": text})]
    frames.append(sse('{"id": "chatcmpl-fake", "choices": [{'))
    return Stream(tuple(frames + _finish("stop", usage)))


def slow(pieces: int = 400, gap_s: float = 0.05) -> Stream:
    """A long text reply with `gap_s` seconds before each chunk."""
    reply = text_reply("tick " * pieces, chunks=pieces)
    return Stream(reply.frames, gap_s=gap_s)


def costed_reply(text: str, *, usage: ServerUsage = ServerUsage(), cost: float) -> Stream:
    """LiteLLM's proxy: a text reply whose usage chunk carries the proxy's own `cost` in USD."""
    reply = text_reply(text, usage=usage)
    usage_chunk = {**_envelope(), "choices": [], "usage": {**wire_usage(usage), "cost": cost}}
    return Stream((*reply.frames[:-2], sse(usage_chunk), sse("[DONE]")))


def openrouter_reply(text: str, *, usage: ServerUsage = ServerUsage(), cost: float) -> Stream:
    """OpenRouter: a text reply whose `usage.cost` is the credits charged, with `cost_details` beside it."""
    details = {"upstream_inference_cost": None}
    reported = {**wire_usage(usage), "cost": cost, "is_byok": False, "cost_details": details}
    reply = text_reply(text, usage=usage)
    usage_chunk = {**_envelope(), "choices": [], "usage": reported}
    return Stream((*reply.frames[:-2], sse(usage_chunk), sse("[DONE]")))


def whole_json(text: str, *, usage: ServerUsage = ServerUsage(), calls: tuple[Call, ...] = ()) -> Status:
    """LiteLLM for some models: one `chat.completion` JSON body (HTTP 200) answering a streaming request."""
    tool_calls = [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": _arguments(call)}}
        for call in calls
    ]
    message = {"role": "assistant", "content": text, **({"tool_calls": tool_calls} if calls else {})}
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else "stop"}
    body = {**_envelope(), "object": "chat.completion", "choices": [choice], "usage": wire_usage(usage)}
    return Status(200, body)


def html_error(status: int = 501) -> Status:
    """Python's http.server (or any plain web server) posted to: an HTML error page, 501 Unsupported method."""
    page = (
        "<!DOCTYPE HTML>\n<html lang=\"en\">\n<head><title>Error response</title></head>\n<body>\n"
        f"<h1>Error response</h1><p>Error code: {status}</p>\n<p>Message: Unsupported method ('POST').</p>\n"
        "</body>\n</html>\n"
    )
    return Status(status, page, content_type="text/html;charset=utf-8")


def not_found() -> Status:
    """Ollama (and most servers) for a path they do not serve, e.g. a base_url missing /v1: a bare 404."""
    return Status(404, "404 page not found", content_type="text/plain")


def wire_usage(usage: ServerUsage) -> dict[str, Any]:
    """`usage` as Chat Completions reports it: prompt_tokens counts cached tokens too."""
    return {
        "prompt_tokens": usage.uncached_input + usage.cache_read + usage.cache_write,
        "completion_tokens": usage.output,
        "total_tokens": usage.uncached_input + usage.cache_read + usage.cache_write + usage.output,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read, "cache_write_tokens": usage.cache_write},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


def _finish(finish_reason: str, usage: ServerUsage) -> list[str]:
    final = _chunk({}, finish_reason=finish_reason)
    usage_chunk = {**_envelope(), "choices": [], "usage": wire_usage(usage)}
    return [final, sse(usage_chunk), sse("[DONE]")]


def _chunk(delta: dict[str, Any], *, finish_reason: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return sse({**_envelope(), "choices": [choice]})


def _envelope() -> dict[str, Any]:
    return {"id": "chatcmpl-fake01", "object": "chat.completion.chunk", "created": 1763856000, "model": MODEL}


def _error_body(message: str, error_type: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def _arguments(call: Call) -> str:
    return call.args if isinstance(call.args, str) else json.dumps(call.args)
