"""What the SDK-backed providers share: the constructor checks and one guarded stream loop.

`guarded_stream` sends the request through the SDK (auth, base URL, headers, errors and
retries before the stream are the SDK's), reads the raw bytes of the streamed reply, decodes
its server-sent events (`agents.providers.sse`) and hands each to a reply state that parses
its JSON into provider events, without the SDK's model per chunk; it maps every SDK, transport or JSON failure to a `ProviderFailure`, and closes
the HTTP response however the iteration ends (normal end, failure, `aclose()` or task
cancellation), so the server sees the disconnect at once. A server that answers the streaming
request with one JSON body instead (LiteLLM does for some models) has that body read as the
whole reply, with a notice saying so.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from tokenmaxx.agents.providers.base import ProviderEvent, ProviderFailure, ProviderNotice, Usage
from tokenmaxx.agents.providers.errors import caught_errors, connection_failure, from_exception, malformed_event_failure
from tokenmaxx.agents.providers.http_body import BodyPiece, body_reads
from tokenmaxx.agents.providers.sse import SseDecoder

DRAIN_S = 0.1
FRESH_READ_S = 0.0005
"""A read that took longer than this waited for the server; one that did not was already buffered."""
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


class InStreamError(Exception):
    """An error event the server sent inside a stream; the provider turns it into its SDK's exception."""

    def __init__(self, message: str, body: object) -> None:
        super().__init__(message)
        self.message, self.body = message, body


class ReplyState(Protocol):
    """What a provider's stream events have said so far about one reply."""

    done: bool

    @property
    def ending(self) -> bool: ...

    def feed(self, event: str | None, data: str) -> list[ProviderEvent]: ...

    def billed(self) -> Usage | None: ...

    def whole(self, body: dict[str, Any]) -> list[ProviderEvent]: ...

    def finish(self, context: FailureContext) -> list[ProviderEvent]: ...


OpenResponse = Callable[[], Awaitable[Any]]
"""Sends the request through the SDK's raw streaming response and returns the `httpx2.Response` to read."""
InStreamErrorMaker = Callable[[InStreamError, Any], Exception]
"""The SDK's exception for an in-stream error event, given the response it arrived on."""


async def guarded_stream(
    open_response: OpenResponse,
    reply: ReplyState,
    context: FailureContext,
    in_stream: InStreamErrorMaker,
    pace_s: float = 0.0,
) -> AsyncIterator[ProviderEvent]:
    """Provider events of one streamed reply; failures leave as `ProviderFailure` only."""
    caught = caught_errors(context.sdk)
    try:
        response = await open_response()
    except caught as err:
        raise context.failure(err, None) from None
    try:
        if _answered_whole(response):
            for event in await _whole_reply(response, reply, context):
                yield event
        else:
            async for events in _stream_events(response, reply, context.sdk, pace_s):
                for event in events:
                    yield event
    except InStreamError as err:
        raise context.failure(in_stream(err, response), reply.billed()) from None
    except caught as err:
        raise context.failure(err, reply.billed()) from None
    finally:
        await response.aclose()
    for event in reply.finish(context):
        yield event


async def _stream_events(
    response: Any, reply: ReplyState, sdk: ModuleType, pace_s: float
) -> AsyncIterator[list[ProviderEvent]]:
    """The provider events of each event of the body, until it ends or the reply says it is done.

    With `pace_s`, a read that had to wait for the server, or that took all the connection had,
    is followed by a pause of that long (unless the reply is ending), so the chunks that arrive
    meanwhile are read together: a wake-up and a socket read per chunk is most of what a
    streamed token costs.
    """
    decoder = SseDecoder()
    chunks = body_reads(response)
    clock = asyncio.get_running_loop().time
    try:
        while not reply.done:
            before = clock()
            piece = await _next_chunk(chunks, response, sdk)
            if piece is None:
                return
            chunk, drained = piece
            waited = drained or clock() - before > FRESH_READ_S
            for name, data in decoder.feed(chunk):
                if reply.done:
                    break
                if events := reply.feed(name, data):
                    yield events
            if pace_s and waited and not reply.ending:
                await asyncio.sleep(pace_s)
        await _drain(chunks)
    finally:
        await chunks.aclose()


async def _next_chunk(chunks: AsyncIterator[BodyPiece], response: Any, sdk: ModuleType) -> BodyPiece | None:
    """The next read of the body, None at its end; a failed read raises the SDK's connection or timeout error."""
    import httpcore2
    import httpx2

    try:
        return await anext(chunks, None)
    except (httpx2.TimeoutException, httpcore2.TimeoutException) as err:
        raise sdk.APITimeoutError(request=response.request) from err
    except sdk.APIError:
        raise
    except Exception as err:  # noqa: BLE001 - as the SDKs do, any failed read is the connection's
        raise sdk.APIConnectionError(request=response.request) from err


async def _drain(chunks: AsyncIterator[BodyPiece]) -> None:
    """Read what is left of a finished reply's body, briefly, so the connection can be used again."""
    try:
        async with asyncio.timeout(DRAIN_S):
            async for _ in chunks:
                pass
    except Exception:  # noqa: BLE001 - the reply is whole; leftovers cannot spoil it
        pass


def _answered_whole(response: Any) -> bool:
    content_type = str(response.headers.get("content-type", ""))
    return content_type.split(";")[0].strip().lower() == "application/json"


async def _whole_reply(response: Any, reply: ReplyState, context: FailureContext) -> list[ProviderEvent]:
    """The events of a whole JSON reply read from the response body, a notice first."""
    body = json.loads(await response.aread())
    if not isinstance(body, dict):
        raise context.not_a_reply(f"a JSON {type(body).__name__}")
    events = reply.whole(body)
    return [ProviderNotice(WHOLE_REPLY_NOTICE), *events]


async def open_raw(resource: Any, params: dict[str, Any]) -> Any:
    """Send `resource.create(**params)` as the SDK's raw streaming response and return its `httpx2.Response`."""
    manager = resource.with_streaming_response.create(**params)
    return (await manager.__aenter__()).http_response


def malformed(data: str) -> json.JSONDecodeError:
    """The error for an event's data that is JSON but not an object, as for data that is not JSON."""
    return json.JSONDecodeError("the event's data is not a JSON object", data, 0)


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
