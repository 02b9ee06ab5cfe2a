"""The SDKs' own parse of a streamed reply, as the oracle the providers' raw-bytes parse is fuzzed against.

Each oracle iterates the SDK's model stream (`create(stream=True)`, a pydantic model per
chunk) and reads the models' attributes into provider events the way the providers did before
they read the raw bytes; failures go through the provider's own failure context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tokenmaxx.agents.providers import anthropic as anthropic_provider
from tokenmaxx.agents.providers import openai as openai_provider
from tokenmaxx.agents.providers.base import ModelRequest, ProviderEvent, ProviderFailure, TextDelta, Usage, UsageReport
from tokenmaxx.agents.providers.base import Stop, ToolCallRequested
from tokenmaxx.agents.providers.errors import caught_errors, parse_tool_arguments


@dataclass
class _OpenAIModels:
    finish_reason: str | None = None
    usage: Usage | None = None
    started: bool = False
    calls: dict[int, list[Any]] = field(default_factory=dict)

    def feed(self, chunk: Any) -> list[ProviderEvent]:
        self.started = True
        if chunk.usage is not None:
            raw = chunk.usage
            prompt, completion = raw.prompt_tokens_details, raw.completion_tokens_details
            self.usage = Usage(
                input_tokens=raw.prompt_tokens or 0,
                output_tokens=raw.completion_tokens or 0,
                cache_read_tokens=(prompt.cached_tokens or 0) if prompt else 0,
                cache_write_tokens=(prompt.cache_write_tokens or 0) if prompt else 0,
                reasoning_tokens=(completion.reasoning_tokens or 0) if completion else 0,
                server_cost_usd=openai_provider._cost(getattr(raw, "cost", None)),
            )
        out: list[ProviderEvent] = []
        for choice in chunk.choices[:1]:
            if choice.delta.content:
                out.append(TextDelta(choice.delta.content))
            for piece in choice.delta.tool_calls or ():
                call = self.calls.setdefault(piece.index, ["", "", []])
                call[0] = piece.id or call[0]
                call[1] = piece.function.name or call[1]
                call[2].append(piece.function.arguments or "")
            self.finish_reason = choice.finish_reason or self.finish_reason
        return out

    def finish(self, context: Any) -> list[Any]:
        if self.finish_reason is None:
            return [described(context.cut_short(None))]
        out: list[ProviderEvent] = []
        for index in sorted(self.calls):
            call_id, name, pieces = self.calls[index]
            out.append(ToolCallRequested(call_id or f"call_{index}", name, *parse_tool_arguments("".join(pieces))))
        if self.usage is not None:
            out.append(UsageReport(self.usage))
        reason = openai_provider._STOP_REASONS.get(self.finish_reason, "other")
        return [*out, Stop("tool_use" if self.calls and reason == "end_turn" else reason)]


@dataclass
class _AnthropicModels:
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    complete: bool = False
    tools: dict[int, list[Any]] = field(default_factory=dict)

    def feed(self, event: Any) -> list[ProviderEvent]:
        match event.type:
            case "message_start":
                self._take_usage(event.message.usage)
            case "content_block_start" if event.content_block.type == "tool_use":
                self.tools[event.index] = [event.content_block.id, event.content_block.name, []]
            case "content_block_delta" if event.delta.type == "text_delta" and event.delta.text:
                return [TextDelta(event.delta.text)]
            case "content_block_delta" if event.delta.type == "input_json_delta" and event.index in self.tools:
                self.tools[event.index][2].append(event.delta.partial_json)
            case "content_block_stop" if event.index in self.tools:
                call_id, name, pieces = self.tools.pop(event.index)
                return [ToolCallRequested(call_id, name, *parse_tool_arguments("".join(pieces)))]
            case "message_delta":
                self.stop_reason = event.delta.stop_reason or self.stop_reason
                self._take_usage(event.usage)
            case "message_stop":
                self.complete = True
        return []

    def _take_usage(self, usage: Any) -> None:
        self.usage["output"] = usage.output_tokens
        for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
            if getattr(usage, name, None) is not None:
                self.usage[name] = getattr(usage, name)

    def finish(self, context: Any) -> list[Any]:
        if not (self.complete or self.stop_reason):
            return [described(context.cut_short(None))]
        write, read = self.usage.get("cache_creation_input_tokens", 0), self.usage.get("cache_read_input_tokens", 0)
        usage = Usage(self.usage.get("input_tokens", 0) + write + read, self.usage.get("output", 0), read, write)
        return [UsageReport(usage), Stop(anthropic_provider._STOP_REASONS.get(self.stop_reason, "other"))]


async def sdk_outcome(provider: Any, request: ModelRequest) -> list[Any]:
    """The provider events the SDK's model stream gives for `request`, then the failure or the close."""
    context = provider._context(request.model)
    models: Any
    if provider.kind == "openai":
        models = _OpenAIModels()
        params = openai_provider.request_params(request, official=False)
        open_stream = provider._client.chat.completions.create
    else:
        models = _AnthropicModels()
        params = {**anthropic_provider.request_params(request, caching=True), "stream": True}
        open_stream = provider._client.messages.create
    out: list[Any] = []
    try:
        stream = await open_stream(**params)
        async for raw in stream:
            out.extend(models.feed(raw))
    except caught_errors(provider._sdk) as err:
        return [*out, described(context.failure(err, None))]
    return [*out, *models.finish(context)]


def described(failure: ProviderFailure) -> tuple[str, str, bool]:
    """A failure as what a user and the loop see of it (billing aside, which the oracle does not track)."""
    return (failure.kind, failure.message, failure.retryable)
