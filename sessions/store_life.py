"""The part of a store's life both backends share: context management, closing, and telling a failed write.

A backend keeps `_failed` (an asyncio.Event set when a write fails), `_fault()` (the error every later
write raises) and `_shutdown(raise_failure=...)` (commit what is queued, then close).
"""

from __future__ import annotations

import asyncio
from typing import Self

from tokenmaxx.sessions.schema import StoreError


class StoreLife:
    """Entering, leaving and closing a store, and waiting for its first failed write."""

    _failed: asyncio.Event

    def _fault(self) -> StoreError:
        raise NotImplementedError

    async def _shutdown(self, *, raise_failure: bool) -> None:
        raise NotImplementedError

    @property
    def has_failed(self) -> bool:
        """Whether a write failed: every later write raises the same fault."""
        return self._failed.is_set()

    async def failed(self) -> StoreError:
        """Wait until a write fails, and return the error every later write raises."""
        await self._failed.wait()
        return self._fault()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        await self._shutdown(raise_failure=exc is None)

    async def close(self) -> None:
        """Commit everything queued, then close; raises StoreError if a write failed."""
        await self._shutdown(raise_failure=True)
