"""Ending tasks: cancel, then wait until each has really ended, the way every owner of a task shuts down."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_drain(*tasks: asyncio.Future[Any] | None) -> None:
    """Cancel `tasks` and wait until every one has ended, whatever it ended with.

    The wait is shielded, so a cancel of the caller meanwhile does not leave them running: the
    caller waits for them all the same, then its own cancel is passed on.
    """
    owned = [task for task in tasks if task is not None]
    for task in owned:
        task.cancel()
    if not owned:
        return
    drained = asyncio.gather(*owned, return_exceptions=True)
    try:
        await asyncio.shield(drained)
    except asyncio.CancelledError:
        await drained
        raise
