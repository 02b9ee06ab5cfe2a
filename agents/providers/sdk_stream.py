"""What the SDK-backed providers share: the constructor checks and one guarded stream loop.

`guarded_stream` opens an SDK stream, turns each raw event into provider events through a
reply state, maps every SDK, transport or JSON failure to a `ProviderFailure`, and closes
the HTTP response however the iteration ends (normal end, failure, `aclose()` or task
cancellation), so the server sees the disconnect at once. A server that answers the streaming
request with one JSON body instead (LiteLLM does for some models) has that body read as the
whole reply, with a notice saying so.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from agents.providers.base import ProviderEvent, ProviderFailure, ProviderNotice, Usage
from agents.providers.errors import caught_errors, connection_failure, from_exception, malformed_event_failure

WHOLE_REPLY_NOTICE = "the server answered the streaming request with one whole JSON reply, not a stream; its text and usage were used"


@dataclass(frozen=True, slots=True)
class FailureContext:
    """Who is streaming, for failure messages, and the key those messages must never show."""

    sdk: ModuleType
    where: str
    api_key_env: str
    api_key: str = field(repr=False)

    def failure(self, err: BaseException, billed: Usage | None) -> ProviderFailure:
        """The failure for an exception the SDK or its transport raised."""
        return from_exception(
            err, sdk=self.sdk, where=self.where, api_key_env=self.api_key_env, api_key=self.api_key, billed=billed
        )

    def cut_short(self, billed: Usage | None) -> ProviderFailure:
        """The failure for a stream that ended cleanly before the reply was complete."""
        detail = "the stream ended before the reply was complete"
        return connection_failure(self.where, detail, api_key=self.api_key, billed=billed)

    def not_a_reply(self, detail: str) -> ProviderFailure:
        """The failure for a JSON body, sent instead of a stream, that is not a reply."""
        return malformed_event_failure(self.where, f"a JSON body instead of a stream, {detail}", api_key=self.api_key)


class ReplyState(Protocol):
    """What a provider's raw stream events have said so far about one reply."""

    def feed(self, raw: Any) -> list[ProviderEvent]: ...

    def billed(self) -> Usage | None: ...

    def whole(self, body: dict[str, Any]) -> list[ProviderEvent]: ...

    def finish(self, context: FailureContext) -> list[ProviderEvent]: ...


class SdkStream(Protocol):
    """An SDK's async stream of raw events, over its HTTP response."""

    response: Any

    def __aiter__(self) -> AsyncIterator[Any]: ...

    async def close(self) -> None: ...


async def guarded_stream(
    open_stream: Callable[[], Awaitable[SdkStream]], reply: ReplyState, context: FailureContext
) -> AsyncIterator[ProviderEvent]:
    """Provider events of one streamed reply; failures leave as `ProviderFailure` only."""
    caught = caught_errors(context.sdk)
    try:
        sdk_stream = await open_stream()
    except caught as err:
        raise context.failure(err, None) from None
    try:
        if _answered_whole(sdk_stream):
            for event in await _whole_reply(sdk_stream, reply, context):
                yield event
        else:
            async for raw in sdk_stream:
                for event in reply.feed(raw):
                    yield event
    except caught as err:
        raise context.failure(err, reply.billed()) from None
    finally:
        await sdk_stream.close()
    for event in reply.finish(context):
        yield event


def _answered_whole(sdk_stream: SdkStream) -> bool:
    content_type = str(sdk_stream.response.headers.get("content-type", ""))
    return content_type.split(";")[0].strip().lower() == "application/json"


async def _whole_reply(sdk_stream: SdkStream, reply: ReplyState, context: FailureContext) -> list[ProviderEvent]:
    """The events of a whole JSON reply read from the response body, a notice first."""
    body = json.loads(await sdk_stream.response.aread())
    if not isinstance(body, dict):
        raise context.not_a_reply(f"a JSON {type(body).__name__}")
    events = reply.whole(body)
    return [ProviderNotice(WHOLE_REPLY_NOTICE), *events]


class SdkProvider:
    """The parts of a provider built on an official SDK client that do not depend on the SDK."""

    kind = "sdk"
    price_as: str | None = None
    simulated = False

    def __init__(self, name: str, *, api_key: str, base_url: str | None, api_key_env: str) -> None:
        if not api_key:
            raise ProviderFailure("auth", f"{self.kind} provider {name!r}: no API key; set {api_key_env}", retryable=False)
        self.name = name
        self.base_url = base_url
        self.api_key_env = api_key_env
        self._key = api_key
        self._sdk: ModuleType
        self._client: Any

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, base_url={self.base_url!r})"

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    def _context(self, model: str) -> FailureContext:
        where = f"{self.kind} provider {self.name!r} (model {model})"
        return FailureContext(self._sdk, where, self.api_key_env, self._key)
