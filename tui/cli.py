"""The `tokenmaxx` command: parse, build what the command needs, hand over. Heavy imports stay lazy."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from tokenmaxx.sessions.safe_text import terminal_safe
from tokenmaxx.sessions.store_api import StoreTarget, redact

T = TypeVar("T")
USAGE_ERROR = 2
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
HANGUP_GRACE_S = 10.0
"""How long a command whose terminal hung up may take to shut down in order before it exits outright.

Textual's writer thread can die writing to a terminal that is gone and then block the app's
shutdown for good (seen when tmux was killed under an attached TUI): with no terminal there is
nothing left to restore, and a fleet runs on in its own process.
"""

db_option = click.option(
    "--db",
    "db",
    metavar="PATH|URL",
    envvar="TOKENMAXX_DB",
    help="Session database: a file, or a team's postgresql:// URL (default: the user data dir; env TOKENMAXX_DB).",
)


def echo(text: str, err: bool = False) -> None:
    """Print a line whose names, paths and messages may come from a model, a tool or an import, made terminal-safe."""
    click.echo(terminal_safe(text), err=err)


def _warn(message: str) -> None:
    echo(f"tokenmaxx: warning: {message}", err=True)


def fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    echo(f"tokenmaxx: {redact(message)}", err=True)
    sys.exit(code)


def has_terminal() -> bool:
    """Whether stdin and stdout are both terminals, as the TUI needs, or a browser tab of `tokenmaxx serve` stands in."""
    from tokenmaxx.tui.web_theme import served_in_browser

    return (sys.stdin.isatty() and sys.stdout.isatty()) or served_in_browser()


def require_terminal(instead: str) -> None:
    """Exit 2 with `instead` as the way out unless there is a terminal: without one the TUI would spin forever."""
    if not has_terminal():
        fail(f"this needs a terminal (stdin and stdout); {instead}")


def resolve_db(db: str | None) -> StoreTarget:
    from tokenmaxx.sessions.store import default_db_path
    from tokenmaxx.sessions.store_api import as_target, is_url

    target = as_target(db) if db else default_db_path()
    if is_url(target):
        return target
    path = Path(target).expanduser().resolve()
    if path.is_dir():
        fail(f"--db {path}: a folder; give the path of a session database file")
    if path.exists() and not path.is_file():
        fail(f"--db {path}: not a regular file (a device, FIFO or socket); give the path of a session database file")
    os.environ["TOKENMAXX_DB"] = str(path)
    return path


class Stopped(Exception):
    """SIGTERM or SIGHUP ended the command, after it shut down in order as on ctrl+c."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; user errors from the store and plans become one clear line and exit 2.

    SIGINT, SIGTERM and SIGHUP each cancel it, so that it shuts down in order; the exit code is
    then 128 plus the signal's number.
    """
    from tokenmaxx.agents.plan import PlanError
    from tokenmaxx.sessions.store import StoreError
    from tokenmaxx.tui.config import ConfigError

    try:
        return asyncio.run(_stoppable(make))
    except (PlanError, StoreError, ConfigError) as error:
        fail(str(error))
    except KeyboardInterrupt:
        fail("interrupted", 128 + signal.SIGINT)
    except Stopped as stopped:
        fail(str(stopped), 128 + stopped.signum)


async def _stoppable(make: Callable[[], Awaitable[T]]) -> T:
    """Await `make()`, cancelling it on SIGTERM or SIGHUP as asyncio does on SIGINT, and raise Stopped once it has ended."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    received: list[int] = []

    def stop(signum: int) -> None:
        if not received:
            received.append(signum)
            main.cancel()
            if signum == signal.SIGHUP:
                _exit_after(HANGUP_GRACE_S, 128 + signum)

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop, signum)
    try:
        return await make()
    except asyncio.CancelledError:
        if not received or main.uncancel() > 0:
            raise
        raise Stopped(received[0]) from None
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def _exit_after(seconds: float, code: int) -> None:
    """Exit with `code` in `seconds` unless the process has ended by then (a daemon timer, so it never holds the exit up)."""
    timer = threading.Timer(seconds, os._exit, (code,))
    timer.daemon = True
    timer.start()


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(package_name="tokenmaxx")
@db_option
@click.pass_context
def main(ctx: click.Context, db: str | None) -> None:
    """Mission control for a fleet of AI agents, in the terminal.

    With no command, opens the sessions browser (enter replays a session); `tokenmaxx demo` starts one.
    """
    if ctx.invoked_subcommand is None:
        from tokenmaxx.tui.runner import browse_tui

        require_terminal("`tokenmaxx sessions` lists the sessions")
        sys.exit(run_async(lambda: browse_tui(resolve_db(db))))
    if db is not None:
        os.environ["TOKENMAXX_DB"] = str(db)  # `tokenmaxx --db X sessions` means `tokenmaxx sessions --db X`


@main.command()
@click.option("--headless", is_flag=True, help="Print progress and a summary instead of opening the TUI.")
@db_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Where agents write (default: demo/ in the user data dir, beside the database).")
@click.option("--speed", type=click.FloatRange(min=0.05, max=1000), default=1.0, show_default=True, help="Simulated token rate multiplier.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulated model.")
@click.option("--harness", type=click.Choice(["claude-code"]), help="Run the five roles as Claude Code agents, on a local scripted model (needs the claude-code extra).")
def demo(headless: bool, db: str | None, out: Path | None, speed: float, seed: int, harness: str | None) -> None:
    """Five agents on the simulated model do real work on this repository: no key, no network."""
    from tokenmaxx.agents.demo import DemoError, demo_plan
    from tokenmaxx.agents.demo.harness import harness_missing

    missing = harness and harness_missing(harness)
    if missing:
        fail(missing)
    db_path = resolve_db(db)
    out_root = (out or demo_out()).resolve()
    make_out_folder(out_root, "--out" if out is not None else "the demo's out folder")
    try:
        plan = demo_plan(Path.cwd(), out_root, speed=speed, seed=seed)
    except DemoError as error:
        fail(str(error))
    if headless:
        _run_plan(plan, db_path, headless=headless, yes=True, prepare=_demo_inputs, db_given=db is not None, harness=harness)
    _start_and_attach(kind="demo", db=db_path, out=out_root, speed=speed, seed=seed, harness=harness)


@main.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(path_type=Path))
@click.option("--headless", is_flag=True, help="Print progress and a summary instead of opening the TUI.")
@db_option
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Where agents write (overrides the plan's `out`).")
@click.option("--yes", is_flag=True, help="Headless: approve every tool call whose policy is `ask`; accept a USD budget over unpriced models.")
def run(plan_path: Path, headless: bool, db: str | None, out: Path | None, yes: bool) -> None:
    """Run the fleet described by PLAN (a fleet.toml)."""
    from tokenmaxx.agents.plan import PlanError, load_plan
    from tokenmaxx.agents.plan_errors import display_path

    try:
        plan = load_plan(plan_path)
    except PlanError as error:
        fail(str(error))
    if out is not None:
        plan = plan.model_copy(update={"out": out.resolve()})
    make_out_folder(plan.out, "--out" if out is not None else f"{display_path(plan.path)}: out")
    _accept_unpriced_budget(plan, headless=headless, yes=yes)
    if headless:
        _run_plan(plan, resolve_db(db), headless=headless, yes=yes, db_given=db is not None)
    _start_and_attach(kind="run", db=resolve_db(db), out=plan.out, plan=plan.path)


def make_out_folder(folder: Path, given_by: str) -> None:
    """Create the out folder before a session is recorded, so one that cannot be made is a clear error, not a traceback."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"{given_by}: cannot create the out folder {folder}: {error.strerror or error}; choose another folder")


def demo_out() -> Path:
    """Where the demo writes unless told: the user data dir, so a demo run in a git repository leaves its status clean."""
    import platformdirs

    return platformdirs.user_data_path("tokenmaxx") / "demo"


def _accept_unpriced_budget(plan: Any, *, headless: bool, yes: bool) -> None:
    """Ask before a fleet USD budget runs over agents it cannot price; `--yes` accepts, headless without it refuses."""
    from tokenmaxx.agents.budget import unpriced_fleet_budget

    warning = unpriced_fleet_budget(plan)
    if warning is None:
        return
    if yes:
        echo(f"tokenmaxx: {warning} (accepted: --yes)", err=True)
    elif headless or not sys.stdin.isatty():
        fail(f"{warning}; or pass --yes to run anyway")
    elif not click.confirm(f"{warning}.\nRun anyway?", default=False, err=True):
        fail("not started")


def _demo_inputs(out_root: Path) -> None:
    from tokenmaxx.agents.demo import copy_inputs

    copy_inputs(out_root)


def _run_plan(
    plan: Any, db_path: Path, *, headless: bool, yes: bool, db_given: bool, prepare: Callable[[Path], None] | None = None, harness: str | None = None
) -> None:
    if headless:
        from tokenmaxx.tui.runner import run_headless

        sys.exit(run_async(lambda: _with_model(plan, harness, lambda p: run_headless(p, db_path, yes=yes, prepare=prepare, echo=echo))))
    from tokenmaxx.tui.runner import run_tui

    require_terminal("use --headless")
    replay_db = db_path if db_given else None
    sys.exit(run_async(lambda: _with_model(plan, harness, lambda p: run_tui(p, db_path, echo=echo, prepare=prepare, replay_db=replay_db))))


async def _with_model(plan: Any, harness: str | None, run: Callable[[Any], Awaitable[int]]) -> int:
    """Run `plan` as it is, or through the demo's harness with its local model server up."""
    if harness is None:
        return await run(plan)
    from tokenmaxx.agents.demo.harness import run_with_model

    return await run_with_model(plan, run)


def _start_and_attach(**launch: Any) -> NoReturn:
    """Start the fleet in a process of its own, then attach the TUI to it (see tui/fleet_cli.py)."""
    from tokenmaxx.agents.fleet_process import LaunchSpec
    from tokenmaxx.sessions.store import new_session_id

    require_terminal("use --headless")
    _start_and_attach_spec(LaunchSpec(session_id=new_session_id(), cwd=Path.cwd(), notify=_config().settings.notify, **launch))


def _start_and_attach_spec(spec: Any) -> NoReturn:
    """Start the fleet process of `spec` and attach the TUI to it; a fleet that does not start exits 2 with its log's tail."""
    from tokenmaxx.tui.fleet_cli import FleetCommandError, attach_tui, start_fleet

    try:
        path = start_fleet(spec)
    except FleetCommandError as error:
        fail(str(error))
    sys.exit(run_fleet_command(lambda: attach_tui(path, echo)))


def _config() -> Any:
    """The user's config; a broken one exits 2 naming the file."""
    from tokenmaxx.tui.config import ConfigError, load_config

    try:
        return load_config()
    except ConfigError as error:
        fail(str(error))


def run_fleet_command(make: Callable[[], Awaitable[T]]) -> T:
    """`run_async` for the fleet commands, whose own errors (no such fleet, a refusal) also exit 2 with one line."""
    from tokenmaxx.agents.wire import WireError
    from tokenmaxx.tui.fleet_cli import FleetCommandError

    try:
        return run_async(make)
    except (FleetCommandError, WireError) as error:
        fail(str(error))


@main.command("fleet-serve", hidden=True)
@click.argument("spec_json")
def fleet_serve(spec_json: str) -> None:
    """Run a fleet process (started by run and demo, never by hand): SPEC_JSON is its LaunchSpec."""
    from tokenmaxx.agents.fleet_process import LaunchSpec, serve_fleet
    from tokenmaxx.agents.keeper import launch
    from tokenmaxx.agents.serve import socket_alive
    from tokenmaxx.agents.wire import socket_path

    spec = LaunchSpec.model_validate_json(spec_json)
    path = socket_path(spec.session_id)
    sys.exit(launch(lambda: run_async(lambda: serve_fleet(spec)), lambda: socket_alive(path), timeout_s=60.0))


@main.command()
@click.argument("session", required=False)
def attach(session: str | None) -> None:
    """Attach the TUI to a running fleet (SESSION: its id or a unique prefix; none: the only one running)."""
    from tokenmaxx.tui.fleet_cli import attach_tui, pick_fleet

    require_terminal("use tokenmaxx ps to see the fleets, tokenmaxx ctl to act on one")
    found = run_fleet_command(lambda: pick_fleet(session))
    sys.exit(run_fleet_command(lambda: attach_tui(found.path, echo)))


@main.command()
@click.argument("session", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; any other than this machine's prints a warning (the token stays required).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="Port to listen on (0: any free one).")
def serve(session: str | None, host: str, port: int) -> None:
    """Serve the TUI to a browser: each tab attaches to the fleet SESSION (none: the sessions browser); needs the serve extra."""
    from tokenmaxx.tui.fleet_cli import pick_fleet

    try:
        from tokenmaxx.tui import web
    except ImportError:
        fail('tokenmaxx serve needs textual-serve: pip install "tokenmaxx[serve]"')
    session_id = run_fleet_command(lambda: pick_fleet(session)).session_id if session else None
    config = _config()
    server = web.TokenServer(web.tab_command(session_id), host, port, secrets.token_urlsafe(24), web.theme_background(config.theme, config.themes_dir))
    try:
        run_async(lambda: web.serve_web(server, echo))
    except OSError as error:
        fail(f"cannot serve on {host}:{port}: {error.strerror or error}")


@main.command()
def ps() -> None:
    """List the running fleets: id, plan, pid, uptime, agents by status, tokens, USD, who is attached."""
    from tokenmaxx.tui.fleet_cli import print_ps

    sys.exit(run_fleet_command(lambda: print_ps(echo)))


@main.command()
@click.argument("session")
def stop(session: str) -> None:
    """Stop a running fleet (SESSION: its id or a unique prefix): every agent stops and the session is recorded as stopped."""
    from tokenmaxx.tui.fleet_cli import stop_fleet

    sys.exit(run_fleet_command(lambda: stop_fleet(session, echo)))


@main.command()
@click.argument("session")
@click.argument("action", type=click.Choice(["kill", "pause", "resume", "restart", "reprompt", "approve", "deny", "accept", "reject"]))
@click.argument("agent")
@click.argument("rest", nargs=-1)
def ctl(session: str, action: str, agent: str, rest: tuple[str, ...]) -> None:
    """Send one command to a running fleet, as its key in the TUI would.

    \b
    tokenmaxx ctl ID kill|pause|resume|restart AGENT
    tokenmaxx ctl ID reprompt AGENT 'the message'
    tokenmaxx ctl ID approve|deny AGENT [CALL_ID]     (none: its only approval in waiting)
    tokenmaxx ctl ID accept|reject AGENT [PATH]       (none: its only deliverable)
    """
    from tokenmaxx.tui.fleet_cli import run_ctl

    sys.exit(run_fleet_command(lambda: run_ctl(session, action, agent, rest, echo)))


@main.command()
@db_option
def doctor(db: str | None) -> None:
    """Say which sandbox confines the agents' commands here; exit 1 when none does."""
    from tokenmaxx.agents.doctor import diagnose

    lines, ok = diagnose(resolve_db(db))
    for line in lines:
        echo(line)
    sys.exit(0 if ok else 1)


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path), default="fleet.toml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a commented plan fitted to this folder (default: ./fleet.toml); with no git history, a sample project beside it."""
    from tokenmaxx.agents.starter import InitError, write_sample_plan

    try:
        written = write_sample_plan(path, force=force)
    except (InitError, FileExistsError, OSError) as error:
        fail(str(error))
    echo(f"wrote {written.path}")
    if written.site.sample:
        echo(f"wrote the sample project {written.path.parent / written.site.workdir} (a small git repository, with talk notes and sources under inputs/)")
    for reason in written.site.reasons:
        echo(f"  {reason}")
    echo(f"run it with: tokenmaxx run {path}")


def who_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--user, --host and --team: only the sessions these people ran on these machines."""
    command = click.option("--team", metavar="TEAM", help="Only sessions of this team's members ([teams] in the config).")(command)
    command = click.option("--host", multiple=True, metavar="HOST", help="Only sessions run on this host (repeatable).")(command)
    return click.option("--user", multiple=True, metavar="USER", help="Only sessions this user ran (repeatable).")(command)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--status", type=click.Choice(["running", "done", "failed", "stopped", "interrupted"]), help="Only sessions with this status.")
@click.option("--since", metavar="DATE", help="Only sessions started since DATE (YYYY-MM-DD, or 7d, 12h, 2w ago).")
@click.option("--sort", type=click.Choice(["started", "duration", "cost", "tokens", "name"]), default="started", show_default=True, help="Newest, longest, costliest or largest first; names A-Z.")
@who_options
@db_option
def sessions(as_json: bool, status: str | None, since: str | None, sort: str, user: tuple[str, ...], host: tuple[str, ...], team: str | None, db: str | None) -> None:
    """List past and running sessions."""
    from tokenmaxx.tui.history_cli import list_sessions

    db_path = resolve_db(db)
    only = _who(user, host, team)
    run_history(lambda: list_sessions(db_path, echo=echo, as_json=as_json, status=status, since=since, sort=sort, only=only))  # type: ignore[arg-type]


def _who(user: tuple[str, ...], host: tuple[str, ...], team: str | None) -> Any:
    """The sessions --user, --host and --team keep (None: all); an unknown team exits 2."""
    from tokenmaxx.tui.config import ConfigError
    from tokenmaxx.tui.history_cli import HistoryError, session_filter

    try:
        return session_filter(user, host, team)
    except (HistoryError, ConfigError) as error:
        fail(str(error))


@main.command()
@click.argument("session")
@click.option("--headless", is_flag=True, help="Print progress and a summary instead of opening the TUI.")
@db_option
@click.option("--yes", is_flag=True, help="Headless: approve every tool call whose policy is `ask`; accept a USD budget over unpriced models.")
@click.option("--force", is_flag=True, help="Resume a session that reads as running though no lock says so (a stale one), with a warning.")
def resume(session: str, headless: bool, db: str | None, yes: bool, force: bool) -> None:
    """Resume an interrupted session (SESSION: its id or a unique prefix)."""
    from tokenmaxx.agents.resume import CannotResume
    from tokenmaxx.tui.runner import resume_headless

    db_path = resolve_db(db)
    warn = _warn if force else None
    accept = partial(_accept_unpriced_budget, headless=headless, yes=yes)
    try:
        if headless:
            sys.exit(run_async(lambda: resume_headless(session, db_path, yes=yes, echo=echo, force=warn, accept=accept)))
        from tokenmaxx.tui.fleet_cli import resume_spec

        require_terminal("use --headless")
        spec = run_async(lambda: resume_spec(session, db_path, force=warn, accept=accept, notify=_config().settings.notify))
    except CannotResume as error:
        fail(str(error))
    _start_and_attach_spec(spec)


@main.command()
@click.argument("session")
@click.option("--speed", type=click.IntRange(1, 1000), default=1, show_default=True, help="Playback speed, 1 to 1000 times real time (in steps of 1, 2, 5, 10, 20, 50...).")
@click.option("--at", "at", type=click.IntRange(min=0), metavar="SEQ", help="Open paused after this event (default: play from the start; a running session is followed live at its end).")
@click.option("--headless", is_flag=True, help="Print the fleet at the cursor and the markers up to it instead of opening the TUI.")
@db_option
def replay(session: str, speed: int, at: int | None, headless: bool, db: str | None) -> None:
    """Replay a recorded session event by event (SESSION: its id or a unique prefix)."""
    db_path = resolve_db(db)
    if headless:
        from tokenmaxx.tui.history_cli import replay_headless

        run_history(lambda: replay_headless(db_path, session, at, echo=echo))
        return
    from tokenmaxx.tui.runner import replay_tui

    require_terminal("use --headless")
    sys.exit(run_async(lambda: replay_tui(session, db_path, speed=speed, at=at)))


# -- history: export, import, stats (logic in tui/history_cli.py) ------------------------------


def run_history(make: Callable[[], Awaitable[T]]) -> T:
    """`run_async` for the history commands, whose own user errors also exit 2 with one line."""
    from tokenmaxx.tui.history_cli import HistoryError

    try:
        return run_async(make)
    except HistoryError as error:
        fail(str(error))


@main.command()
@click.argument("session")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "md"]), default="jsonl", show_default=True, help="Lossless JSONL (importable) or a Markdown transcript.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
@db_option
def export(session: str, fmt: str, output: Path | None, db: str | None) -> None:
    """Export a session (SESSION: its id or a unique prefix)."""
    from tokenmaxx.tui.history_cli import export_session

    db_path = resolve_db(db)
    stdout = sys.stdout
    run_history(lambda: export_session(db_path, session, fmt, output, stdout))  # type: ignore[arg-type]


@main.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@db_option
def import_(file: Path, db: str | None) -> None:
    """Import a session from a JSONL export; prints its id."""
    from tokenmaxx.tui.history_cli import import_session

    db_path = resolve_db(db)
    echo(run_history(lambda: import_session(db_path, file)))


@main.command()
@click.argument("repo", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Remove the leftovers (without it, only list them).")
@click.option("--force", is_flag=True, help="Also remove worktrees that hold uncommitted changes.")
def gc(repo: Path, yes: bool, force: bool) -> None:
    """List (and with --yes remove) the worktrees and branches that ended sessions left in REPO (default: here)."""
    from tokenmaxx.tui.gc_cli import collect_garbage

    sys.exit(collect_garbage(repo, yes=yes, force=force, echo=echo))


@main.command()
@click.option("--since", metavar="DATE", help="Only what happened since DATE (YYYY-MM-DD, or 7d, 12h, 2w ago).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--by", "by", type=click.Choice(["user", "role", "model", "plan", "harness", "day"]), multiple=True, help="Group by this (repeatable; default: role, model, plan and day).")
@who_options
@db_option
def stats(since: str | None, as_json: bool, by: tuple[str, ...], user: tuple[str, ...], host: tuple[str, ...], team: str | None, db: str | None) -> None:
    """What the tokens bought: spend beside outcomes by role, model, plan and day (or user, harness)."""
    from tokenmaxx.sessions.stats import DEFAULT_DIMENSIONS
    from tokenmaxx.tui.history_cli import print_stats

    db_path = resolve_db(db)
    only = _who(user, host, team)
    run_history(lambda: print_stats(db_path, echo=echo, since=since, as_json=as_json, only=only, by=by or DEFAULT_DIMENSIONS))


@main.command()
@click.option("--to", "to", required=True, metavar="URL|PATH", help="The store to copy into, e.g. the team's postgresql:// URL.")
@db_option
def sync(to: str, db: str | None) -> None:
    """Copy this machine's sessions to another store (the team's); sessions already there are skipped or completed."""
    from tokenmaxx.tui.history_cli import sync_sessions

    source, target = resolve_db(db), resolve_db(to)
    run_history(lambda: sync_sessions(source, target, echo=echo))
