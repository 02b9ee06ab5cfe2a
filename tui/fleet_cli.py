"""The commands around fleet processes: start one (a plan, the demo or a resumed session) and attach, `attach`, `ps`, `stop` and `ctl`.

Each is a client of a fleet's socket (`agents.fleet_client`); the TUI attached is `RemoteFleet`
on the same app that runs an in-process fleet, so the screen is the same either way.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents import wire
from tokenmaxx.agents.fleet_client import FleetConnection, FoundFleet, command, find_fleets, stop
from tokenmaxx.agents.fleet_process import LOG_NAME, LaunchSpec
from tokenmaxx.agents.notify import NotifySettings
from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.resume import Warn
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.sessions.store_api import StoreTarget, open_store
from tokenmaxx.tui.format import count, duration, plural
from tokenmaxx.tui.headless import exit_code
from tokenmaxx.tui.web_theme import served_in_browser

Echo = Callable[..., None]
START_TIMEOUT_S = 60.0
STOP_WAIT_S = 60.0
LOG_TAIL_LINES = 15


class FleetCommandError(Exception):
    """A fleet command that cannot go on: the message says why and what to do (exit 2)."""


def start_fleet(spec: LaunchSpec) -> Path:
    """Start the fleet process of `spec`, detached, and return its socket once it answers; FleetCommandError if it ended first."""
    folder = spec.session_folder()
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / LOG_NAME
    argv = [sys.executable, "-m", "tokenmaxx.tui", "fleet-serve", spec.model_dump_json()]
    with open(log_path, "ab") as log:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, timeout=START_TIMEOUT_S + 5)
    if done.returncode != 0:
        raise FleetCommandError(f"the fleet did not start:\n{_tail(log_path)}\n(its log: {log_path})")
    return wire.socket_path(spec.session_id)


async def resume_spec(
    session: str, db_path: StoreTarget, *, force: Warn | None, accept: Callable[[Plan], None], notify: NotifySettings
) -> LaunchSpec:
    """The spec of a fleet process resuming `session`, once checked here: resumable, its lock free, its plan read and `accept`ed.

    Raises CannotResume with why not; the lock taken for the check is let go when the store closes,
    and the fleet process takes it again for as long as it runs the session.
    """
    from tokenmaxx.agents.resume import resumed_supervisor

    async with await open_store(db_path) as store:
        session_id = await store.resolve(session)
        supervisor, _ = await resumed_supervisor(store, session_id, force=force)
        accept(supervisor.plan)
    out = supervisor.out_root.parent
    return LaunchSpec(kind="resume", session_id=session_id, db=db_path, out=out, cwd=Path.cwd(), force=force is not None, notify=notify)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"(cannot read {path}: {error.strerror or error})"
    return "\n".join(lines[-LOG_TAIL_LINES:])


async def pick_fleet(prefix: str | None) -> FoundFleet:
    """The running fleet whose session id starts with `prefix` (None: the only one); FleetCommandError naming the choices otherwise."""
    fleets = [f for f in await find_fleets(clean=True) if f.hello is not None or f.problem]
    matching = [f for f in fleets if prefix is None or f.session_id.startswith(prefix)]
    if len(matching) == 1:
        if matching[0].problem:
            raise FleetCommandError(matching[0].problem)
        return matching[0]
    if not matching:
        wanted = f"no running fleet's session starts with {prefix!r}" if prefix else "no fleet is running"
        raise FleetCommandError(f"{wanted} (tokenmaxx ps lists them; tokenmaxx sessions lists every session)")
    listing = "\n".join(f"  {f.session_id}  {f.hello.name if f.hello else f.problem}" for f in matching)
    raise FleetCommandError(f"{len(matching)} fleets are running; name one: tokenmaxx attach ID\n{listing}")


async def attach_tui(path: Path, echo: Echo) -> int:
    """Attach the TUI to the fleet at `path` until the person detaches, stops the fleet or it ends; echo what then."""
    from tokenmaxx.tui.app import TokenmaxxApp
    from tokenmaxx.tui.config import load_config
    from tokenmaxx.tui.remote_fleet import RemoteFleet

    fleet = await RemoteFleet.attach(path, f"web:{os.getpid()}" if served_in_browser() else None)
    app = TokenmaxxApp(fleet, config=load_config(), store_path=fleet.hello.db if "://" in fleet.hello.db else Path(fleet.hello.db))
    fleet.on_notice = lambda message, severity: app.notify(message, severity=severity)  # type: ignore[arg-type]
    watching = asyncio.create_task(_exit_when_gone(fleet, app), name="fleet-gone")
    try:
        await app.run_async()
    finally:
        await cancel_and_drain(watching)
        try:
            if app.stop_asked:
                async with asyncio.timeout(STOP_WAIT_S):
                    await fleet.gone.wait()
        finally:
            await fleet.close()
    return await _closing(fleet, echo)


async def _exit_when_gone(fleet: object, app: object) -> None:
    await fleet.gone.wait()  # type: ignore[attr-defined]
    app.exit()  # type: ignore[attr-defined]


async def _closing(fleet: object, echo: Echo) -> int:
    """What the terminal keeps: how the fleet ended, or that it runs on and how to come back."""
    from tokenmaxx.tui.remote_fleet import RemoteFleet

    assert isinstance(fleet, RemoteFleet)
    hello, ended = fleet.hello, fleet.ended
    short = hello.session_id
    if ended is not None and ended.fault:
        echo(f"tokenmaxx: {ended.reason}", err=True)
        return 2
    if ended is not None:
        echo(await _ended_line(hello))
        return exit_code(fleet.state)
    if fleet.gone.is_set() and not fleet.detached:
        echo(f"tokenmaxx: the fleet process (pid {hello.pid}) is gone without a word; `tokenmaxx resume {short}` takes the session up again", err=True)
        return 1
    echo(f"detached: the fleet runs on (pid {hello.pid})  ·  tokenmaxx attach {short}  ·  tokenmaxx stop {short}")
    return 0


async def _ended_line(hello: wire.FleetHello) -> str:
    """The line an in-process run leaves (`runner.closing_line`), naming the database unless it is the default one."""
    from tokenmaxx.sessions.store import default_db_path
    from tokenmaxx.tui.runner import closing_line

    db: StoreTarget = hello.db if "://" in hello.db else Path(hello.db)
    replay_db = None if db == default_db_path() else db
    async with await open_store(db) as store:
        return await closing_line(store, hello.session_id, Path(hello.out_root), replay_db)


# -- ps, stop, ctl ----------------------------------------------------------------------------------


async def print_ps(echo: Echo) -> int:
    """One line per fleet of this user: live ones with their agents, spend and clients; dead ones with the way back."""
    fleets = await find_fleets(clean=True)
    if not fleets:
        echo("no fleet is running (start one with tokenmaxx demo or tokenmaxx run PLAN)")
        return 0
    now = time.time()
    echo(f"{'ID':<13} {'PLAN':<20} {'PID':>7} {'UP':>7}  {'AGENTS':<34} {'TOKENS':>8} {'USD':>8}  ATTACHED")
    for fleet in fleets:
        echo(_ps_line(fleet, now))
    return 0


def _ps_line(fleet: FoundFleet, now: float) -> str:
    hello = fleet.hello
    if hello is None:
        why = fleet.problem or f"dead (its process is gone): tokenmaxx resume {fleet.session_id}"
        return f"{fleet.session_id:<13} {why}"
    agents = ", ".join(f"{n} {status}" for status, n in sorted(hello.agents.items()))
    who = ", ".join(hello.clients) or "-"
    return (
        f"{hello.session_id:<13} {hello.name[:20]:<20} {hello.pid:>7} {duration(now - hello.started_at):>7}  "
        f"{agents[:34]:<34} {count(hello.tokens):>8} {hello.cost_usd:>8.2f}  {who}"
    )


async def stop_fleet(prefix: str, echo: Echo) -> int:
    found = await pick_fleet(prefix)
    await stop(found.path, f"stop:{os.getpid()}")
    echo(f"stopped the fleet of session {found.session_id}")
    return 0


ACTIONS = ("kill", "pause", "resume", "restart", "reprompt", "approve", "deny", "accept", "reject")


async def run_ctl(prefix: str, action: str, agent: str, rest: tuple[str, ...], echo: Echo) -> int:
    """Send one command to a running fleet, recorded as `ctl:PID`; 2 with the fleet's reason when it does not apply."""
    found = await pick_fleet(prefix)
    by = f"ctl:{os.getpid()}"
    sent = await _ctl_command(found.path, action, agent, rest, by)
    refused = await command(found.path, by, sent)
    if refused is not None:
        raise FleetCommandError(refused)
    echo(f"{action} {agent}: done")
    return 0


async def _ctl_command(path: Path, action: str, agent: str, rest: tuple[str, ...], by: str) -> cmd.Command:
    text = " ".join(rest)
    match action:
        case "kill" | "pause" | "resume" | "restart":
            return {"kill": cmd.Kill, "pause": cmd.Pause, "resume": cmd.Resume, "restart": cmd.Restart}[action](agent=agent, by=by)
        case "reprompt":
            if not text.strip():
                raise FleetCommandError("reprompt needs a message: tokenmaxx ctl ID reprompt AGENT 'the message'")
            return cmd.Reprompt(agent=agent, text=text, by=by)
        case "approve" | "deny":
            call_id = text or await _only(path, agent, "pending approval", lambda a: [p.call_id for p in a.pending])
            return cmd.Approve(agent=agent, call_id=call_id, by=by) if action == "approve" else cmd.Deny(agent=agent, call_id=call_id, by=by)
        case _:
            target = text or await _only(path, agent, "deliverable", lambda a: [x.path for x in a.artifacts])
            return cmd.Accept(agent=agent, path=target, by=by) if action == "accept" else cmd.Reject(agent=agent, path=target, by=by)


async def _only(path: Path, agent: str, what: str, pick: Callable[..., list[str]]) -> str:
    """The one `what` of `agent` in the fleet's state, read from its snapshot; FleetCommandError when there are none or several."""
    connection = await FleetConnection.open(path, f"ctl:{os.getpid()}")
    try:
        snapshot = await connection.frame()
    finally:
        await connection.close()
    if not isinstance(snapshot, wire.Snapshot) or agent not in snapshot.state.agents:
        raise FleetCommandError(f"no agent called {agent!r} in this fleet")
    choices = pick(snapshot.state.agents[agent])
    if len(choices) != 1:
        named = f": {', '.join(choices)}" if choices else ""
        raise FleetCommandError(f"{agent} has {plural(len(choices), what)}{named}; name the one you mean after the agent")
    return choices[0]
