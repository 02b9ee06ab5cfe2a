"""The fleet process: one session of a plan, run to its end on its own and served on its socket.

`tokenmaxx run`, `tokenmaxx demo` and `tokenmaxx resume` write a `LaunchSpec`, start `tokenmaxx fleet-serve` with it
in a new session (see `agents.keeper`), and attach a TUI to the socket once it answers. The
process ends when its fleet ends, when a client asks it to stop, on SIGTERM, or on a storage
fault, which every attached client is told.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from tokenmaxx.agents.lifetime import end_fleet, ready_to_record, until_done_or_fault
from tokenmaxx.agents.notify import NotifySettings, fleet_notifications
from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.serve import FleetServer
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.agents.wire import socket_path
from tokenmaxx.sessions.store import StoreError
from tokenmaxx.sessions.store_api import SessionStore, StoreTarget, open_store

LOG_NAME = "fleet.log"


class LaunchSpec(BaseModel):
    """What the fleet process runs: a plan file or the demo, for a session id chosen by whoever starts it, or a session taken up again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["run", "demo", "resume"]
    session_id: str
    db: StoreTarget
    out: Path
    cwd: Path
    plan: Path | None = None
    speed: float = 1.0
    seed: int = 0
    harness: Literal["claude-code"] | None = None  # the demo's agents as harness agents of a local model
    notify: NotifySettings = NotifySettings()  # the launching user's notification settings (the desktop and the hook)
    force: bool = False  # resume: take up a session no lock can check (`tokenmaxx resume --force`), warning in the log

    def session_folder(self) -> Path:
        """The session's output folder, which also holds the fleet's log."""
        return self.out / self.session_id


def build_plan(spec: LaunchSpec) -> Plan:
    """The plan the spec names, with its out folder as the launcher chose it."""
    if spec.kind == "demo":
        from tokenmaxx.agents.demo import demo_plan

        return demo_plan(spec.cwd, spec.out, speed=spec.speed, seed=spec.seed)
    from tokenmaxx.agents.plan import load_plan

    assert spec.plan is not None
    return load_plan(spec.plan).model_copy(update={"out": spec.out})


async def serve_fleet(spec: LaunchSpec) -> int:
    """Run the spec's fleet to its end, serving it on its socket; 0 when every agent delivered, else 1."""
    if spec.kind == "resume":
        return await _serve_resumed(spec)
    plan = build_plan(spec)
    if spec.harness is None:
        return await _serve_plan(spec, plan)
    from tokenmaxx.agents.demo.harness import run_with_model

    return await run_with_model(plan, lambda through: _serve_plan(spec, through))


async def _serve_plan(spec: LaunchSpec, plan: Plan) -> int:
    async with await open_store(spec.db) as store:
        supervisor = Supervisor.create(plan, store, session_id=spec.session_id, watch_plan=True)
        if spec.kind == "demo":
            from tokenmaxx.agents.demo import copy_inputs

            copy_inputs(supervisor.out_root)
        await _served(spec, supervisor, store, supervisor.start)
    return _exit_code(supervisor)


async def _serve_resumed(spec: LaunchSpec) -> int:
    """Take the session up again, holding its lock for as long as this process runs it."""
    from tokenmaxx.agents.resume import resume, resumed_supervisor

    async with await open_store(spec.db) as store:
        force = _log_warning if spec.force else None
        supervisor, events = await resumed_supervisor(store, spec.session_id, force=force, watch_plan=True)
        await _served(spec, supervisor, store, lambda: resume(supervisor, events))
    return _exit_code(supervisor)


def _log_warning(message: str) -> None:
    print(f"tokenmaxx: warning: {message}", file=sys.stderr, flush=True)


async def _served(spec: LaunchSpec, supervisor: Supervisor, store: SessionStore, start: Callable[[], Awaitable[None]]) -> None:
    """Serve the supervisor's fleet on its socket, telling its notices, from `start` to its end."""
    await ready_to_record(store)
    server = FleetServer(supervisor, store, socket_path(spec.session_id), db_path=spec.db)
    await server.start()
    notifications = fleet_notifications(spec.notify, supervisor.plan.notify)
    unsubscribe = supervisor.log.subscribe(notifications)
    try:
        await _serve(supervisor, store, server, spec.db, start)
    finally:
        unsubscribe()
        await notifications.aclose()


def _exit_code(supervisor: Supervisor) -> int:
    outcomes = [a.outcome for a in supervisor.state.agents.values() if not a.withdrawn]
    return 0 if all(o == "done" for o in outcomes) else 1


async def _serve(supervisor: Supervisor, store: SessionStore, server: FleetServer, db_path: StoreTarget, start: Callable[[], Awaitable[None]]) -> None:
    try:
        await start()
        await until_done_or_fault(supervisor, store, server.stopping.wait(), review=True)
        await end_fleet(supervisor, store, db_path)
    except StoreError as fault:
        await server.close(str(fault), fault=True)
        raise
    except asyncio.CancelledError:
        await asyncio.shield(_stopped(supervisor, store, server, db_path))
        raise
    await server.close(f"the fleet ended: {supervisor.state.status}")


async def _stopped(supervisor: Supervisor, store: SessionStore, server: FleetServer, db_path: StoreTarget) -> None:
    """A signal stopped the fleet: record it as stopped and tell the clients."""
    try:
        await end_fleet(supervisor, store, db_path, "stopped")
    except StoreError as fault:
        await server.close(str(fault), fault=True)
        raise
    await server.close("the fleet was stopped by a signal")
