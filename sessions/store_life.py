"""The part of a store's life both backends share: appends waiting to be committed, a failed write, closing.

A backend counts `_appended` and `_committed` events, calls `_release_waiters` when a batch commits and
`_fail` when a write fails, and provides `_shutdown(raise_failure=...)` (commit what is queued, then close).
"""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Self

from tokenmaxx.sessions.faults import StorageFault
from tokenmaxx.sessions.schema import StoreError


class StoreLife:
    """Waiting for commits, telling a failed write to every waiter and later write, entering and closing."""

    path: Path | str
    _loop: asyncio.AbstractEventLoop
    _appended: int
    _committed: int
    _closing: bool
    _failed: asyncio.Event
    _failure: tuple[StorageFault, BaseException] | None
    _waiters: collections.deque[tuple[int, asyncio.Future[None]]]

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

    async def wait_committed(self) -> None:
        """Wait, without hurrying the writer, until everything appended so far is committed."""
        self._raise_failure()
        if self._committed >= self._appended:
            return
        committed: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append((self._appended, committed))
        await committed

    def _check_writable(self) -> None:
        self._raise_failure()
        if self._closing:
            raise StoreError(f"{self.path}: the store is closed")

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._fault()

    def _fault(self) -> StorageFault:
        """A fresh copy of the write failure, to raise once more."""
        assert self._failure is not None
        fault, cause = self._failure
        error = StorageFault(fault.path, fault.reason)
        error.__cause__ = cause
        return error

    def _release_waiters(self) -> None:
        while self._waiters and self._waiters[0][0] <= self._committed:
            _, committed = self._waiters.popleft()
            if not committed.done():
                committed.set_result(None)

    def _fail(self, fault: StorageFault, cause: BaseException) -> None:
        self._failure = (fault, cause)
        self._failed.set()
        while self._waiters:
            _, committed = self._waiters.popleft()
            if not committed.done():
                committed.set_exception(self._fault())
