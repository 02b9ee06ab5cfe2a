"""Read-only snapshots of the session history for the agents whose plan entry sets `history = true`.

Each time such an agent starts, the fleet copies its session store (`copy_to`: SQLite's online backup,
or a PostgreSQL server's sessions exported into an SQLite file) into a private temporary folder; the
agent's commands see that copy as $TOKENMAXX_HISTORY, never the live store. The folder is removed
when the fleet closes.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from tokenmaxx.agents.plan_models import AgentSpec
from tokenmaxx.agents.tools.workspace import HistoryCopy
from tokenmaxx.sessions.backup import MAX_COPY_BYTES
from tokenmaxx.sessions.store import StoreError
from tokenmaxx.sessions.store_api import SessionStore

NO_DATABASE = "this fleet records to no session database, so there is no history to copy"


class HistorySnapshots:
    """The history snapshots of one fleet, one per agent that asks, in a folder only this process uses."""

    def __init__(self, store: SessionStore | None, max_bytes: int = MAX_COPY_BYTES) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._folder: Path | None = None
        self._copies: dict[str, HistoryCopy] = {}

    async def take(self, spec: AgentSpec) -> None:
        """A fresh snapshot for the agent when its plan entry asks for the history; none otherwise."""
        if spec.history:
            self._copies[spec.name] = await self._copy(spec.name)
        else:
            self._copies.pop(spec.name, None)

    def copy_for(self, agent: str) -> HistoryCopy | None:
        """The agent's latest snapshot (or why it has none); None when it does not ask for the history."""
        return self._copies.get(agent)

    async def close(self) -> None:
        """Remove every snapshot and their folder."""
        self._copies.clear()
        folder, self._folder = self._folder, None
        if folder is not None:
            await asyncio.to_thread(shutil.rmtree, folder, True)

    async def _copy(self, agent: str) -> HistoryCopy:
        if not isinstance(self._store, SessionStore):
            return HistoryCopy(None, NO_DATABASE)
        if self._folder is None:
            self._folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="tokenmaxx-history-"))
        try:
            copy = await self._store.copy_to(self._folder / f"{agent}.db", self._max_bytes)
        except StoreError as error:
            return HistoryCopy(None, f"no history snapshot was taken: {error}")
        return HistoryCopy(copy)
