"""The OpenAI provider: Chat Completions, streamed, on the official SDK (`AsyncOpenAI`).

Chat Completions is what every OpenAI-compatible server speaks (vLLM, Ollama, OpenRouter,
GLM), so `base_url` points this provider at any of them; prices are looked up by the
provider genai-prices finds for that URL (none for a local server: then the model name
alone, then the plan's `[prices]`). The SDK is imported when a provider is built, and its
own retries are off (`max_retries_sdk=0`): every retry is the agent loop's.

Tool calls stream as `delta.tool_calls[i]` pieces, several calls interleaved by index; the
fragments of each are joined and parsed when the reply ends. Arguments that are not a JSON
object become `{}` with their text kept, and the loop tells the model its JSON was invalid. A failed tool
result is sent as "Error: <output>" (tool messages have no error flag).

Usage arrives on a last chunk because the request asks for `include_usage`; `prompt_tokens`
already counts cached tokens, and a `cost` in it (LiteLLM, OpenRouter) is kept as the server's
own price. A server that sends no usage yields no `UsageReport`; a stream cut after its first
chunk is billed with counts the agent loop estimates. A reply with tool calls stops with
"tool_use" even when the server says "stop" (Ollama does). A whole JSON completion sent for the
streaming request (LiteLLM does this for some models) is read as one chunk.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tokenmaxx.agents.pricing import provider_id_for_url
from tokenmaxx.agents.providers.base import (
    Message,
    ModelRequest,
    ProviderEvent,
    Stop,
    TextDelta,
    ToolCallPart,
    ToolCallRequested,
    ToolResultPart,
    Usage,
    UsageReport,
)
from tokenmaxx.agents.providers.errors import parse_tool_arguments
from tokenmaxx.agents.providers.sdk_stream import FailureContext, InStreamError, SdkProvider, guarded_stream, malformed, open_raw

_STOP_REASONS: dict[str | None, Any] = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


class OpenAIProvider(SdkProvider):
    """Streams replies from OpenAI's Chat Completions API, or any server that speaks it."""

    kind = "openai"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        headers: dict[str, str] | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        max_retries_sdk: int = 0,
    ) -> None:
        super().__init__(name, api_key=api_key, base_url=base_url, api_key_env=api_key_env)
        import openai

        self.price_provider_id = provider_id_for_url(base_url, "openai")
        self._sdk = openai
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, default_headers=headers, max_retries=max_retries_sdk
        )

    def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]:
        """Stream one reply; the HTTP response is closed however the iteration ends."""
        params = request_params(request, official=self.price_provider_id == "openai")
        return guarded_stream(
            lambda: open_raw(self._client.chat.completions, params),
            _Reply(),
            self._context(request.model),
            self._in_stream_error,
            request.read_pace_s,
        )

    def _in_stream_error(self, err: InStreamError, response: Any) -> Exception:
        """The SDK's exception for a chunk that carries an `error`, as its own stream raises."""
        return self._sdk.APIError(err.message, response.request, body=err.body)


def request_params(request: ModelRequest, *, official: bool) -> dict[str, Any]:
    """The Chat Completions arguments for `request` (`max_completion_tokens` when `official`, for OpenAI itself)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": request.system}] if request.system else []
    for message in request.messages:
        messages.extend(_messages(message))
    params: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens" if official else "max_tokens": request.max_tokens,
    }
    if request.tools:
        params["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
    return params


def _messages(message: Message) -> list[dict[str, Any]]:
    if message.role == "assistant":
        return [_assistant(message)]
    results = [
        {"role": "tool", "tool_call_id": p.call_id, "content": p.output if p.ok else f"Error: {p.output}"}
        for p in message.parts
        if isinstance(p, ToolResultPart)
    ]
    text = message.text
    return results + ([{"role": "user", "content": text}] if text or not results else [])


def _assistant(message: Message) -> dict[str, Any]:
    calls = [
        {"id": p.call_id, "type": "function", "function": {"name": p.name, "arguments": json.dumps(p.args)}}
        for p in message.parts
        if isinstance(p, ToolCallPart)
    ]
    out: dict[str, Any] = {"role": "assistant", "content": message.text or None}
    if calls:
        out["tool_calls"] = calls
    return out


@dataclass(slots=True)
class _PendingCall:
    call_id: str = ""
    name: str = ""
    pieces: list[str] = field(default_factory=list)

    def call(self, index: int) -> ToolCallRequested:
        """The finished call; arguments that are not a JSON object become `{}`, their text kept as `raw_args`."""
        args, raw = parse_tool_arguments("".join(self.pieces))
        return ToolCallRequested(self.call_id or f"call_{index}", self.name, args, raw)


@dataclass(slots=True)
class _Reply:
    """What the streamed chunks have said so far about one reply."""

    finish_reason: str | None = None
    usage: Usage | None = None
    started: bool = False
    done: bool = False
    calls: dict[int, _PendingCall] = field(default_factory=dict)

    @property
    def ending(self) -> bool:
        """Whether the server has said how the reply ends (what follows is its usage)."""
        return self.finish_reason is not None

    def feed(self, event: str | None, data: str) -> list[ProviderEvent]:
        """The provider events of one server-sent event: a chunk, an error, or the `[DONE]` mark."""
        if data.startswith("[DONE]"):
            self.done = True
            return []
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise malformed(data)
        if chunk.get("error"):
            raise InStreamError(_error_message(chunk["error"]), chunk["error"])
        return self._chunk(chunk)

    def _chunk(self, chunk: dict[str, Any]) -> list[ProviderEvent]:
        """The provider events one chunk yields (text at once; calls wait for the end)."""
        self.started = True
        if isinstance(usage := chunk.get("usage"), dict):
            self.usage = _usage(usage)
        out: list[ProviderEvent] = []
        for choice in _dicts(chunk.get("choices"))[:1]:
            delta = choice.get("delta")
            if isinstance(delta, dict):
                self._take_delta(delta, out)
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        return out

    def _take_delta(self, delta: dict[str, Any], out: list[ProviderEvent]) -> None:
        content = delta.get("content")
        if content and isinstance(content, str):
            out.append(TextDelta(content))
        for piece in _dicts(delta.get("tool_calls")):
            self._take_call(piece)

    def _take_call(self, piece: dict[str, Any]) -> None:
        pending = self.calls.setdefault(self._index_of(piece), _PendingCall())
        if piece.get("id"):
            pending.call_id = piece["id"]
        function = piece.get("function")
        if isinstance(function, dict):
            if function.get("name"):
                pending.name = function["name"]
            if function.get("arguments"):
                pending.pieces.append(function["arguments"])

    def _index_of(self, piece: dict[str, Any]) -> int:
        """The piece's call index; servers that omit it send each call whole or in order."""
        index = piece.get("index")
        if isinstance(index, int):
            return index
        if piece.get("id") or not self.calls:
            return len(self.calls)
        return max(self.calls)

    def whole(self, body: dict[str, Any]) -> list[ProviderEvent]:
        """The provider events of a whole (non-streamed) completion, read as one chunk."""
        choices = [
            {"index": 0, "delta": choice.get("message") or {}, "finish_reason": choice.get("finish_reason") or "stop"}
            for choice in (body.get("choices") or [])[:1]
            if isinstance(choice, dict)
        ]
        return self._chunk({**body, "choices": choices})

    def billed(self) -> Usage | None:
        """Chat Completions reports usage only at the end: a stream cut after it began is billed, its counts unknown (0)."""
        return self.usage or (Usage() if self.started else None)

    def finish(self, context: FailureContext) -> list[ProviderEvent]:
        """The tool calls, usage and stop, or a connection failure if the stream ended early."""
        if self.finish_reason is None:
            raise context.cut_short(self.billed())
        out: list[ProviderEvent] = [self.calls[i].call(i) for i in sorted(self.calls)]
        if self.usage is not None:
            out.append(UsageReport(self.usage))
        out.append(Stop(self._stop_reason()))
        return out

    def _stop_reason(self) -> Any:
        reason = _STOP_REASONS.get(self.finish_reason, "other")
        return "tool_use" if self.calls and reason == "end_turn" else reason


def _usage(raw: dict[str, Any]) -> Usage:
    prompt = raw.get("prompt_tokens_details")
    completion = raw.get("completion_tokens_details")
    prompt = prompt if isinstance(prompt, dict) else {}
    completion = completion if isinstance(completion, dict) else {}
    return Usage(
        input_tokens=raw.get("prompt_tokens") or 0,
        output_tokens=raw.get("completion_tokens") or 0,
        cache_read_tokens=prompt.get("cached_tokens") or 0,
        cache_write_tokens=prompt.get("cache_write_tokens") or 0,
        reasoning_tokens=completion.get("reasoning_tokens") or 0,
        server_cost_usd=_cost(raw.get("cost")),
    )


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array (anything else is none)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _error_message(error: Any) -> str:
    """The message of an in-stream `error`, as the SDK words it."""
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) and message else "An error occurred during streaming"


def _cost(value: Any) -> float | None:
    """A server-reported cost in USD, when it is a plain non-negative number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        return None
    return float(value)

