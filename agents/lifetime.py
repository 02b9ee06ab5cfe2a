"""A fleet's lifetime on its store, wherever it runs: refuse to start unrecorded, wait for the end, record it.

The headless runner, the in-process TUI and the fleet process all run a fleet this way; after a
storage fault nothing more can be recorded, so the fleet is halted and the fault raised with how
to take the session up again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.sessions.store import StoreError
from tokenmaxx.sessions.store_api import SessionStore, StoreTarget, describe

ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], None]


async def ready_to_record(store: SessionStore) -> None:
    """Refuse to start a fleet the store could not record, and keep a fault's echoes from the terminal."""
    await store.check_writable()
    asyncio.get_running_loop().set_exception_handler(_quiet_after_fault(store))


def _quiet_after_fault(store: SessionStore) -> ExceptionHandler:
    """A loop exception handler that drops the store's fault raised again in callbacks: it is told once, at the end."""

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not (store.has_failed and isinstance(context.get("exception"), StoreError)):
            loop.default_exception_handler(context)

    return handle


async def until_done_or_fault(
    supervisor: Supervisor, store: SessionStore, stop: Coroutine[Any, Any, object] | None = None, *, review: bool = False
) -> None:
    """Wait until every agent has finished (with `review`, and every diff was reviewed), the store failed, or `stop` returned."""
    done = until_reviewed(supervisor) if review else supervisor.wait()
    waits = [asyncio.create_task(done, name="fleet-done"), asyncio.create_task(store.failed(), name="store-fault")]
    if stop is not None:
        waits.append(asyncio.create_task(stop, name="fleet-stop"))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_and_drain(*waits)


async def until_reviewed(supervisor: Supervisor) -> None:
    """Wait until every agent has finished and no diff waits for review: a rejection with a note sets its agent going again."""
    changed = asyncio.Event()
    unsubscribe = supervisor.log.subscribe(lambda event, state: changed.set())
    try:
        while True:
            await supervisor.wait()
            if not supervisor.worktrees.in_review():
                return
            changed.clear()
            await changed.wait()
    finally:
        unsubscribe()


async def end_fleet(supervisor: Supervisor, store: SessionStore, db_path: StoreTarget, status: str | None = None) -> None:
    """Record how the session ended; after a storage fault, stop the fleet without recording and raise the fault."""
    if store.has_failed:
        fault = await store.failed()
        await supervisor.halt()
        raise StoreError(f"{fault}\n{kept_message(supervisor.session_id, db_path)}") from fault
    await supervisor.finish(status)
    await store.flush()


def kept_message(session_id: str, db_path: StoreTarget) -> str:
    return (
        f"The fleet was stopped. Session {session_id} keeps everything recorded before; once this is fixed, "
        f"`tokenmaxx resume {session_id} --db {describe(db_path)}` takes it up again."
    )
