"""The provider protocol: one model request in, a stream of provider events out.

A conversation is kept in a neutral form (`Message` with text, tool-call and tool-result
parts); each adapter translates it to its wire format. Errors leave an adapter as
`ProviderFailure`, never as an SDK exception:

    ProviderFailure
      kind: auth | rate_limit | overloaded | bad_request | context_length | connection | server
      retryable: whether trying the same request again may succeed
      retry_after_s: the server's Retry-After, when it sent one
      billed: usage the server had already reported before the stream broke
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from tokenmaxx.sessions.events import ErrorKind


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallPart:
    call_id: str
    name: str
    args: dict[str, Any]
    raw_args: str | None = None  # the arguments as sent, when they were not a JSON object


@dataclass(frozen=True, slots=True)
class ToolResultPart:
    call_id: str
    output: str
    ok: bool = True


Part: TypeAlias = TextPart | ToolCallPart | ToolResultPart


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["user", "assistant"]
    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments


@dataclass(frozen=True, slots=True)
class ModelRequest:
    model: str
    system: str
    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int = 4096
    agent: str = ""  # who asks; the sim provider keys its policy on the role
    role: str = ""
    read_pace_s: float = 0.0  # how long a stream may let chunks wait between reads: a large fleet reads in batches


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequested:
    call_id: str
    name: str
    args: dict[str, Any]
    raw_args: str | None = None  # the arguments as sent, when they were not a JSON object


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one reply; `input_tokens` counts all input, cached included."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    server_cost_usd: float | None = None  # what the server itself said the reply cost (LiteLLM, OpenRouter)


@dataclass(frozen=True, slots=True)
class UsageReport:
    usage: Usage


@dataclass(frozen=True, slots=True)
class Stop:
    reason: Literal["end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal", "other"]


@dataclass(frozen=True, slots=True)
class ProviderNotice:
    """Something the server did that the user should hear of, though the reply went on."""

    text: str


ProviderEvent: TypeAlias = TextDelta | ToolCallRequested | UsageReport | Stop | ProviderNotice


class ProviderFailure(Exception):
    """A provider error mapped to one of a few kinds."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        retryable: bool,
        retry_after_s: float | None = None,
        billed: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.billed = billed


class Provider(Protocol):
    """A model provider: `stream` yields events until a `Stop`, or raises ProviderFailure."""

    name: str  # the provider's name in the plan
    kind: str  # anthropic | openai | sim
    price_provider_id: str | None  # genai-prices provider id, None for unknown
    price_as: str | None  # price replies as this model instead of the requested one (sim)
    simulated: bool  # usage is simulated, not billed

    def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class ReplyAccumulator:
    """Collects a streamed reply into an assistant message and its usage."""

    text: list[str] = field(default_factory=list)
    calls: list[ToolCallPart] = field(default_factory=list)
    usage: Usage | None = None
    stop: str = "end_turn"

    def add(self, event: ProviderEvent) -> None:
        match event:
            case TextDelta(text=text):
                self.text.append(text)
            case ToolCallRequested(call_id=call_id, name=name, args=args, raw_args=raw_args):
                self.calls.append(ToolCallPart(call_id, name, args, raw_args))
            case UsageReport(usage=usage):
                self.usage = usage
            case Stop(reason=reason):
                self.stop = reason
            case ProviderNotice():
                pass

    def message(self) -> Message:
        parts: list[Part] = []
        if self.text:
            parts.append(TextPart("".join(self.text)))
        parts.extend(self.calls)
        return Message("assistant", tuple(parts))
