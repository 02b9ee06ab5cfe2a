"""A recorded demo session in a temp store, and the app replaying it, for the replay tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.pilot import Pilot

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.export import read_jsonl
from tokenmaxx.sessions.store import Store
from tests.tui.sample_fleet import clock
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.config import Config, Settings
from tokenmaxx.tui.fleet_view import FleetView
from tokenmaxx.tui.replay_fleet import ReplayFleet

DEMO = Path(__file__).parents[1] / "sessions" / "data" / "demo_session.jsonl"
DEMO_EVENTS: list[ev.Event] = read_jsonl(DEMO)
DEMO_ID = DEMO_EVENTS[0].session_id


def demo_db(folder: Path) -> Path:
    """A database holding the recorded demo session (176 events, five agents, flags, interventions, artifacts)."""
    path = folder / "sessions.db"

    async def write() -> None:
        async with await Store.open(path) as store:
            await store.import_events(DEMO_EVENTS)

    asyncio.run(write())
    return path


def replay_app(folder: Path, db: Path, fleet: FleetView | None = None, *, now: object = clock) -> TokenmaxxApp:
    """The app on `fleet` (a ReplayFleet, a live fleet, or None for the session browser), the clock fixed."""
    config = Config(directory=folder / "config", settings=Settings(theme="tokenmaxx-dark"))
    return TokenmaxxApp(fleet, config=config, clock=now, store_path=db)  # type: ignore[arg-type]


async def settled(pilot: Pilot[None]) -> None:
    """Let the keys' workers finish, then paint what they left."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.repaint()  # type: ignore[attr-defined]
    await pilot.pause()


async def opened(pilot: Pilot[None], session: str = DEMO_ID) -> ReplayFleet:
    """Open `session` in the running app as the session browser would, and wait for its screen."""
    app: TokenmaxxApp = pilot.app  # type: ignore[assignment]
    app.open_replay(session)
    await settled(pilot)
    assert isinstance(app.fleet, ReplayFleet)
    return app.fleet
