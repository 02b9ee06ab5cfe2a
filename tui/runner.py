"""Running a session: headless (progress lines and a summary) or in the TUI, on one store and one supervisor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tokenmaxx.agents.lifetime import end_fleet as _end
from tokenmaxx.agents.lifetime import ready_to_record as _ready_to_record
from tokenmaxx.agents.lifetime import until_done_or_fault as _until_done_or_fault
from tokenmaxx.agents.notify import fleet_notifications
from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.resume import Warn
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.sessions.store import AmbiguousSession
from tokenmaxx.sessions.store_api import SessionStore, StoreTarget, describe, open_store
from tokenmaxx.tui.headless import Echo, ProgressPrinter, exit_code, summary_table
from tokenmaxx.agents.heap import HEAP_SETTLED_S, freeze_heap

if TYPE_CHECKING:
    from textual.app import App

    from tokenmaxx.tui.config import Config

Prepare = Callable[[Path], None]
Starter = Callable[[Supervisor], Awaitable[None]]
Accept = Callable[[Plan], None]  # passes a plan before it runs, or exits with why not
SHORT_ID = 4
"""The shortest session id prefix the closing line offers for `tokenmaxx replay`, as git's short hashes."""


async def _start_new(supervisor: Supervisor) -> None:
    await supervisor.start()


async def run_headless(plan: Plan, db_path: StoreTarget, *, yes: bool, echo: Echo, prepare: Prepare | None = None) -> int:
    """Run every agent of a new session of `plan` to the end, printing progress."""
    async with await open_store(db_path) as store:
        supervisor = Supervisor.create(plan, store, headless=True, auto_yes=yes, watch_plan=True)
        if prepare is not None:
            prepare(supervisor.out_root)
        return await _headless(supervisor, store, _start_new, echo, db_path)


async def resume_headless(
    session: str, db_path: StoreTarget, *, yes: bool, echo: Echo, force: Warn | None = None, accept: Accept | None = None
) -> int:
    """Resume an interrupted session and run its unfinished agents to the end, once `accept` passes its plan (`force`: see `resumed_supervisor`)."""
    from tokenmaxx.agents.resume import resume, resumed_supervisor

    async with await open_store(db_path) as store:
        session_id = await store.resolve(session)
        supervisor, events = await resumed_supervisor(store, session_id, force=force, headless=True, auto_yes=yes, watch_plan=True)
        if accept is not None:
            accept(supervisor.plan)
        echo(f"resuming session {session_id}: {supervisor.plan.name}")
        return await _headless(supervisor, store, lambda s: resume(s, events), echo, db_path)


async def _headless(supervisor: Supervisor, store: SessionStore, start: Starter, echo: Echo, db_path: StoreTarget) -> int:
    from tokenmaxx.tui.config import load_config

    supervisor.log.subscribe(ProgressPrinter(echo))
    await _ready_to_record(store)
    async with notifying(supervisor, load_config()):
        await start(supervisor)
        settled = asyncio.get_running_loop().call_later(HEAP_SETTLED_S, freeze_heap)
        try:
            await _until_done_or_fault(supervisor, store)
        except asyncio.CancelledError:
            await asyncio.shield(_end(supervisor, store, db_path, "stopped"))
            raise
        finally:
            settled.cancel()
        await _end(supervisor, store, db_path)
    state = supervisor.state
    echo("")
    echo(summary_table(state))
    echo(f"\nsession {supervisor.session_id}  ·  outputs in {supervisor.out_root}  ·  database {describe(db_path)}")
    return exit_code(state)


@asynccontextmanager
async def notifying(supervisor: Supervisor, config: Config) -> AsyncIterator[None]:
    """Tell the fleet's notices on the desktop and to the hook while inside; on leaving, deliver those queued.

    The terminal's notices are the TUI's own (see `TokenmaxxApp`); a headless run rings no bell, its
    progress lines already say what happened.
    """
    notifications = fleet_notifications(config.settings.notify, supervisor.plan.notify)
    unsubscribe = supervisor.log.subscribe(notifications)
    try:
        yield
    finally:
        unsubscribe()
        await notifications.aclose()


async def run_tui(plan: Plan, db_path: StoreTarget, *, echo: Echo, prepare: Prepare | None = None, replay_db: StoreTarget | None = None) -> int:
    """Open the fleet screen on a live session of `plan`; once it closes, echo how to find the session again.

    `replay_db` is the database the replay hint names with --db (None: the default one).
    """
    from tokenmaxx.tui.app import TokenmaxxApp
    from tokenmaxx.tui.config import load_config
    from tokenmaxx.tui.fleet_view import LiveFleet

    async with await open_store(db_path) as store:
        supervisor = Supervisor.create(plan, store, watch_plan=True)
        if prepare is not None:
            prepare(supervisor.out_root)
        app = TokenmaxxApp(LiveFleet(supervisor), config=load_config(), on_start=supervisor.start, store_path=db_path)
        await _ready_to_record(store)
        async with notifying(supervisor, app.config):
            try:
                await _run_app(app, store)
            finally:
                await _end(supervisor, store, db_path)
        echo(await closing_line(store, supervisor.session_id, supervisor.out_root, replay_db))
    return exit_code(supervisor.state)


async def _run_app(app: App[Any], store: SessionStore) -> None:
    """Run the app until it is closed, or until the store fails, which closes it."""

    async def exit_on_fault() -> None:
        await store.failed()
        app.exit()

    watching = asyncio.create_task(exit_on_fault(), name="store-fault")
    try:
        await app.run_async()
    finally:
        await cancel_and_drain(watching)


async def closing_line(store: SessionStore, session_id: str, out_root: Path, replay_db: StoreTarget | None) -> str:
    """What the terminal keeps once the TUI is gone: the session, its outputs and the command that replays it."""
    replay = f"tokenmaxx replay {await _short_id(store, session_id)}"
    if replay_db is not None:
        replay += f" --db {replay_db}"
    return f"session {session_id}  ·  outputs in {_from_here(out_root)}  ·  replay: {replay}"


async def _short_id(store: SessionStore, session_id: str) -> str:
    """The shortest prefix of `session_id`, from SHORT_ID characters, that no other session of `store` shares."""
    for length in range(SHORT_ID, len(session_id)):
        try:
            await store.resolve(session_id[:length])
        except AmbiguousSession:
            continue
        return session_id[:length]
    return session_id


def _from_here(path: Path) -> str:
    """`path` as ./relative when it lies under the working directory, else as it is."""
    try:
        return f"./{path.relative_to(Path.cwd())}"
    except ValueError:
        return str(path)


async def replay_tui(session: str, db_path: StoreTarget, *, speed: int, at: int | None = None) -> int:
    """Open the replay screen on a stored session (id or unique prefix), paused at `at`, else playing (see Player.open)."""
    from tokenmaxx.sessions.player import SPEEDS
    from tokenmaxx.tui.app import TokenmaxxApp
    from tokenmaxx.tui.config import load_config
    from tokenmaxx.tui.replay_fleet import ReplayFleet

    config = load_config()
    fleet = await ReplayFleet.open(db_path, session, speed=max(s for s in SPEEDS if s <= speed), at=at)
    try:
        await TokenmaxxApp(fleet, config=config, store_path=db_path).run_async()
    finally:
        await fleet.close()
    return 0


async def browse_tui(db_path: StoreTarget, echo: Echo = print) -> int:
    """Open the sessions browser on the store at `db_path`; enter replays a session or attaches to a running fleet, r resumes one, once the browser closes."""
    from tokenmaxx.agents.resume import CannotResume
    from tokenmaxx.tui.app import TokenmaxxApp
    from tokenmaxx.tui.config import load_config

    app = TokenmaxxApp(None, config=load_config(), store_path=db_path)
    await app.run_async()
    if app.attach_after is not None:
        return await _attach_chosen(app.attach_after, echo)
    if app.resume_after is None:
        return 0
    from tokenmaxx.tui.fleet_cli import FleetCommandError, resume_spec, start_fleet

    try:
        spec = await resume_spec(app.resume_after, db_path, force=None, accept=lambda plan: None, notify=app.config.settings.notify)
        await asyncio.to_thread(start_fleet, spec)
    except (CannotResume, FleetCommandError) as error:
        echo(f"tokenmaxx: {error}")
        return 2
    return await _attach_chosen(spec.session_id, echo)


async def _attach_chosen(session_id: str, echo: Echo) -> int:
    """Attach to the fleet chosen in the browser; 2 with why when it ended meanwhile."""
    from tokenmaxx.agents.wire import WireError, socket_path
    from tokenmaxx.tui.fleet_cli import attach_tui

    try:
        return await attach_tui(socket_path(session_id), echo)
    except (WireError, OSError) as error:
        echo(f"tokenmaxx: cannot attach to session {session_id}: {error}")
        return 2
