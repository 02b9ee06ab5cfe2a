"""What the SDK-backed providers share: the constructor checks and one guarded stream loop.

`guarded_stream` opens an SDK stream, turns each raw event into provider events through a
reply state, maps every SDK, transport or JSON failure to a `ProviderFailure`, and closes
the HTTP response however the iteration ends (normal end, failure, `aclose()` or task
cancellation), so the server sees the disconnect at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from agents.providers.base import ProviderEvent, ProviderFailure, Usage
from agents.providers.errors import caught_errors, connection_failure, from_exception


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


class ReplyState(Protocol):
    """What a provider's raw stream events have said so far about one reply."""

    def feed(self, raw: Any) -> list[ProviderEvent]: ...

    def billed(self) -> Usage | None: ...

    def finish(self, context: FailureContext) -> list[ProviderEvent]: ...


class SdkStream(Protocol):
    """An SDK's async stream of raw events."""

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
        async for raw in sdk_stream:
            for event in reply.feed(raw):
                yield event
    except caught as err:
        raise context.failure(err, reply.billed()) from None
    finally:
        await sdk_stream.close()
    for event in reply.finish(context):
        yield event


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
