"""The Anthropic provider: the Messages API, streamed, on the official SDK (`AsyncAnthropic`).

The SDK is imported when a provider is built, never when this module is imported, so the
CLI and the sim demo start without it. The SDK's own retries are off (`max_retries_sdk=0`
by default): every retry is the agent loop's, so a rate-limited agent shows as such.

Prompt caching is on by default with three `cache_control` breakpoints (the API allows
four): the system prompt, the last tool definition and the last block of the last message,
so each turn reads the growing conversation prefix from the cache.

Usage follows genai-prices: `input_tokens` counts all input, so the API's uncached
`input_tokens`, `cache_creation_input_tokens` and `cache_read_input_tokens` are added up.
A stream that breaks after `message_start` fails with `billed` set to what the server had
reported by then (input exact, output as counted so far).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from tokenmaxx.agents.providers.base import (
    Message,
    ModelRequest,
    ProviderEvent,
    Stop,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolCallRequested,
    ToolResultPart,
    Usage,
    UsageReport,
)
from tokenmaxx.agents.providers.errors import parse_tool_arguments
from tokenmaxx.agents.providers.sdk_stream import FailureContext, InStreamError, SdkProvider, guarded_stream, malformed, open_raw

EPHEMERAL = {"type": "ephemeral"}
_STOP_REASONS: dict[str | None, Any] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
}


class AnthropicProvider(SdkProvider):
    """Streams replies from Anthropic's Messages API, or any server that speaks it."""

    kind = "anthropic"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        headers: dict[str, str] | None = None,
        api_key_env: str = "ANTHROPIC_API_KEY",
        max_retries_sdk: int = 0,
        prompt_caching: bool = True,
    ) -> None:
        super().__init__(name, api_key=api_key, base_url=base_url, api_key_env=api_key_env)
        import anthropic

        self.prompt_caching = prompt_caching
        self.price_provider_id: str | None = "anthropic"
        self._sdk = anthropic
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, default_headers=headers, max_retries=max_retries_sdk
        )

    def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]:
        """Stream one reply; the HTTP response is closed however the iteration ends."""
        params = request_params(request, caching=self.prompt_caching)
        return guarded_stream(
            lambda: open_raw(self._client.messages, {**params, "stream": True}),
            _Reply(),
            self._context(request.model),
            self._in_stream_error,
            request.read_pace_s,
        )

    def _in_stream_error(self, err: InStreamError, response: Any) -> Exception:
        """The SDK's exception for an `error` event, as its own stream raises (a status error with status 200)."""
        return self._client._make_status_error(err.message, body=err.body, response=response)


def request_params(request: ModelRequest, *, caching: bool) -> dict[str, Any]:
    """The Messages API arguments for `request`, with cache breakpoints when `caching`."""
    messages = [m for m in (_message(msg) for msg in request.messages) if m["content"]]
    params: dict[str, Any] = {"model": request.model, "max_tokens": request.max_tokens, "messages": messages}
    if request.system:
        params["system"] = [{"type": "text", "text": request.system}]
    if request.tools:
        params["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools
        ]
    if caching:
        _mark_breakpoints(params)
    return params


def _mark_breakpoints(params: dict[str, Any]) -> None:
    tails = [params.get("system"), params.get("tools")]
    if params["messages"]:
        tails.append(params["messages"][-1]["content"])
    for blocks in tails:
        if blocks:
            blocks[-1]["cache_control"] = dict(EPHEMERAL)


def _message(message: Message) -> dict[str, Any]:
    results = [_block(p) for p in message.parts if isinstance(p, ToolResultPart)]
    others = [_block(p) for p in message.parts if not isinstance(p, ToolResultPart)]
    blocks = [b for b in results + others if b is not None]
    return {"role": message.role, "content": blocks}


def _block(part: TextPart | ToolCallPart | ToolResultPart) -> dict[str, Any] | None:
    match part:
        case TextPart(text=text):
            return {"type": "text", "text": text} if text else None
        case ToolCallPart(call_id=call_id, name=name, args=args):
            return {"type": "tool_use", "id": call_id, "name": name, "input": args}
        case ToolResultPart(call_id=call_id, output=output, ok=ok):
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id, "is_error": not ok}
            if output:
                block["content"] = output
            return block


@dataclass(slots=True)
class _ToolBlock:
    call_id: str
    name: str
    pieces: list[str] = field(default_factory=list)

    def call(self) -> ToolCallRequested:
        """The finished call; input that is not a JSON object becomes `{}`, its text kept as `raw_args`."""
        args, raw = parse_tool_arguments("".join(self.pieces))
        return ToolCallRequested(self.call_id, self.name, args, raw)


@dataclass(slots=True)
class _Reply:
    """What the raw stream events have said so far about one reply."""

    started: bool = False
    complete: bool = False
    uncached_input: int = 0
    cache_write: int = 0
    cache_read: int = 0
    output: int = 0
    reasoning: int = 0
    stop_reason: str | None = None
    done: bool = False
    tools: dict[int, _ToolBlock] = field(default_factory=dict)

    @property
    def ending(self) -> bool:
        """Whether the server has said how the reply ends (what follows is its close)."""
        return self.complete or self.stop_reason is not None

    def feed(self, event: str | None, data: str) -> list[ProviderEvent]:
        """The provider events of one server-sent event; unnamed events and pings say nothing."""
        if event is None or event == "ping":
            return []
        if event == "error":
            raise _error_event(data)
        if not data:
            return []
        text = _plain_text_delta(data)
        if text is not None:
            return [TextDelta(text)] if text else []
        payload = json.loads(data)
        if not isinstance(payload, dict):
            raise malformed(data)
        return self._payload(payload)

    def _payload(self, event: dict[str, Any]) -> list[ProviderEvent]:
        """The provider events of one stream event's JSON, by its `type`."""
        match event.get("type"):
            case "message_start":
                self.started = True
                self._take_usage(_field(_field(event, "message"), "usage"))
            case "content_block_start" if _field(event, "content_block").get("type") == "tool_use":
                block = event["content_block"]
                self.tools[event.get("index")] = _ToolBlock(block.get("id"), block.get("name"))
            case "content_block_delta":
                return self._delta(event.get("index"), _field(event, "delta"))
            case "content_block_stop" if event.get("index") in self.tools:
                return [self.tools.pop(event["index"]).call()]
            case "message_delta":
                self.stop_reason = _field(event, "delta").get("stop_reason") or self.stop_reason
                self._take_usage(_field(event, "usage"))
            case "message_stop":
                self.complete = True
        return []

    def _delta(self, index: Any, delta: dict[str, Any]) -> list[ProviderEvent]:
        kind = delta.get("type")
        if kind == "text_delta" and (text := delta.get("text")):
            return [TextDelta(text)]
        if kind == "input_json_delta" and index in self.tools:
            self.tools[index].pieces.append(delta.get("partial_json") or "")
        return []

    def _take_usage(self, usage: dict[str, Any]) -> None:
        if isinstance(output := usage.get("output_tokens"), int):
            self.output = output
        if isinstance(uncached := usage.get("input_tokens"), int):
            self.uncached_input = uncached
        if isinstance(write := usage.get("cache_creation_input_tokens"), int):
            self.cache_write = write
        if isinstance(read := usage.get("cache_read_input_tokens"), int):
            self.cache_read = read
        if isinstance(thinking := _field(usage, "output_tokens_details").get("thinking_tokens"), int):
            self.reasoning = thinking

    def whole(self, body: dict[str, Any]) -> list[ProviderEvent]:
        """The provider events of a whole (non-streamed) message: its text, tool calls, usage and stop."""
        self.started = self.complete = True
        self.stop_reason = body.get("stop_reason")
        self._take_usage(_field(body, "usage"))
        out: list[ProviderEvent] = []
        for block in body.get("content") or ():
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and block.get("text"):
                out.append(TextDelta(block["text"]))
            elif block.get("type") == "tool_use":
                args = block.get("input")
                out.append(ToolCallRequested(block.get("id"), block.get("name"), args if isinstance(args, dict) else {}))
        return out

    def usage(self) -> Usage:
        """The reply's usage with input counting cache reads and writes."""
        return Usage(
            input_tokens=self.uncached_input + self.cache_write + self.cache_read,
            output_tokens=self.output,
            cache_read_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
            reasoning_tokens=self.reasoning,
        )

    def billed(self) -> Usage | None:
        """What the server had reported when the stream broke; None before message_start."""
        return self.usage() if self.started else None

    def finish(self, context: FailureContext) -> list[ProviderEvent]:
        """The closing usage and stop, or a connection failure if the stream ended early."""
        if not (self.complete or self.stop_reason):
            raise context.cut_short(self.billed())
        return [UsageReport(self.usage()), Stop(_STOP_REASONS.get(self.stop_reason, "other"))]


_TEXT_DELTA_HEAD = '{"type":"content_block_delta","index":'
_TEXT_DELTA_TEXT = ',"delta":{"type":"text_delta","text":"'
_TEXT_DELTA_TAIL = '"}}'


def _plain_text_delta(data: str) -> str | None:
    """The text of a text delta written as the API writes it, with nothing to unescape; None for any other data.

    Most events of a reply are these; reading their text without `json.loads` is exact only
    for this one compact shape with a plain decimal index and a text with no quote, backslash
    or control character, so anything else is left to `json.loads`.
    """
    if not (data.startswith(_TEXT_DELTA_HEAD) and data.endswith(_TEXT_DELTA_TAIL)):
        return None
    split = data.find(_TEXT_DELTA_TEXT, len(_TEXT_DELTA_HEAD))
    index = data[len(_TEXT_DELTA_HEAD) : split]
    if split < 0 or not (index.isascii() and index.isdigit()) or (index[0] == "0" and len(index) > 1):
        return None
    text = data[split + len(_TEXT_DELTA_TEXT) : -len(_TEXT_DELTA_TAIL)]
    if '"' in text or "\\" in text or not text.isprintable():
        return None
    return text


def _field(event: dict[str, Any], name: str) -> dict[str, Any]:
    """An object-valued field of a stream event, or an empty one when it is missing or not an object."""
    value = event.get(name)
    return value if isinstance(value, dict) else {}


def _error_event(data: str) -> InStreamError:
    """An `error` event as the SDK reads it: its JSON body when it parses, else its text."""
    try:
        body: object = json.loads(data)
    except ValueError:
        return InStreamError(data or "Error code: 200", data)
    return InStreamError(f"{body}", body)
