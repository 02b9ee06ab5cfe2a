"""Notifications: which events tap the person on the shoulder, and the sinks that tell them away from the screen.

`Notifier` is pure: given each event of a fleet, it returns the `Notice` to give, or None. An agent
flagged (stalled, looping, burning, over budget), asking for an approval, failed, or done (delivered)
is notable; one agent's notices of one kind come at most once a minute, timed by the events' own `ts`,
so that every process following the same events decides alike. `Notifications` is the log subscriber
that hands each notice to its sinks: `DesktopSink` (notify-send, else osascript on macOS; none: skipped)
and `HookSink` (the user's shell command, the notice as JSON on stdin). A sink delivers in a task of its
own, one notice at a time, within a time limit, and never raises into the event log.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field

from tokenmaxx.agents.plan_models import ENV_NAME_PATTERN, NotifySpec
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.agents.tools.process import signal_group
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import FleetState

NoticeKind: TypeAlias = Literal["stalled", "looping", "burning", "over_budget", "approval", "failed", "delivered"]
NOTICE_KINDS: tuple[NoticeKind, ...] = get_args(NoticeKind)
TerminalStyle: TypeAlias = Literal["auto", "osc9", "osc777", "bell"]
QUIET_S = 60.0
"""How long one agent's notices of one kind stay quiet after one was given."""
HOOK_TIMEOUT_S = 10.0
DESKTOP_TIMEOUT_S = 5.0
CLOSE_GRACE_S = 5.0
"""How long closing waits for the notices still queued before it gives up on them."""
MAX_WAITING = 50
"""Notices a sink holds while it delivers another; past that, new ones are dropped (and logged)."""
BODY_CHARS = 200
NOTICE_VERSION = 1
BASE_ENV = ("PATH", "HOME", "LANG")
DESKTOP_ENV = (*BASE_ENV, "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")
"""What notify-send needs to reach the desktop's notification server."""
TITLES: dict[NoticeKind, str] = {
    "stalled": "is stalled",
    "looping": "is looping",
    "burning": "is burning tokens",
    "over_budget": "is over budget",
    "approval": "asks for approval",
    "failed": "failed",
    "delivered": "delivered",
}
logger = logging.getLogger(__name__)


class NotifySettings(BaseModel):
    """The `[notify]` table of the user's config: which kinds tell, and by which paths."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    kinds: list[NoticeKind] = Field(default_factory=lambda: list(NOTICE_KINDS))
    terminal: bool = True
    terminal_style: TerminalStyle = "auto"
    desktop: bool = True
    command: str | None = Field(default=None, min_length=1)
    env_pass: list[Annotated[str, Field(pattern=ENV_NAME_PATTERN)]] = []


@dataclass(frozen=True)
class Notice:
    """One tap on the shoulder: what to say, about which agent, and the event that caused it."""

    kind: NoticeKind
    agent: str
    title: str
    body: str
    session_id: str
    fleet: str
    event: ev.Event

    def to_json(self) -> str:
        """The notice as the hook reads it on stdin: one JSON object, the event under `event`."""
        fields = {"version": NOTICE_VERSION, "kind": self.kind, "agent": self.agent, "title": self.title, "body": self.body}
        envelope = {**fields, "session_id": self.session_id, "fleet": self.fleet, "event": json.loads(ev.encode(self.event))}
        return json.dumps(envelope, ensure_ascii=False)


class Notifier:
    """Decides, event by event, which ones make a notice, keeping each agent's kinds quiet for `quiet_s`."""

    def __init__(self, kinds: Iterable[NoticeKind] = NOTICE_KINDS, *, quiet_s: float = QUIET_S) -> None:
        self.kinds = frozenset(kinds)
        self.quiet_s = quiet_s
        self._last: dict[tuple[str, NoticeKind], float] = {}

    def notice(self, event: ev.Event, state: FleetState) -> Notice | None:
        """The notice `event` makes, or None when it is not notable, switched off or too soon after the last."""
        found = notable(event, state)
        if found is None or found[0] not in self.kinds:
            return None
        kind, agent, body = found
        last = self._last.get((agent, kind))
        if last is not None and event.ts - last < self.quiet_s:
            return None
        self._last[(agent, kind)] = event.ts
        return Notice(kind, agent, f"{agent} {TITLES[kind]}", _cut(body), event.session_id, state.name, event)


def notable(event: ev.Event, state: FleetState) -> tuple[NoticeKind, str, str] | None:
    """The kind, agent and body of the notice `event` makes, or None when it makes none."""
    match event:
        case ev.AgentFlagged():
            return event.flag, event.agent, event.detail
        case ev.ApprovalRequested():
            return "approval", event.agent, f"{event.tool} {json.dumps(event.args, ensure_ascii=False)}"
        case ev.AgentFinished(outcome="failed"):
            return "failed", event.agent, event.summary
        case ev.AgentFinished(outcome="done"):
            return "delivered", event.agent, _delivered(event, state)
        case _:
            return None


def _delivered(event: ev.AgentFinished, state: FleetState) -> str:
    agent = state.agents.get(event.agent)
    paths = [artifact.path for artifact in agent.artifacts] if agent is not None else []
    return ", ".join(paths) if paths else event.summary


def _cut(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= BODY_CHARS else line[: BODY_CHARS - 1] + "…"


class Sink(Protocol):
    """Where notices go; `send` never blocks and never raises."""

    def send(self, notice: Notice) -> None: ...

    async def aclose(self) -> None: ...


class Notifications:
    """A log subscriber: each notice its notifier decides on goes to every sink."""

    def __init__(self, notifier: Notifier, sinks: Iterable[Sink]) -> None:
        self.notifier = notifier
        self.sinks = tuple(sinks)

    def __call__(self, event: ev.Event, state: FleetState) -> None:
        notice = self.notifier.notice(event, state)
        if notice is None:
            return
        for sink in self.sinks:
            sink.send(notice)

    async def aclose(self) -> None:
        """Deliver what is queued (for at most CLOSE_GRACE_S), then stop every sink's task."""
        for sink in self.sinks:
            await sink.aclose()


class QueuedSink:
    """Delivers notices one at a time, with `env` for what it runs, in a task named `notify:<name>` started at the first notice."""

    name = "sink"

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self._queue: asyncio.Queue[Notice] | None = None
        self._task: asyncio.Task[None] | None = None

    def send(self, notice: Notice) -> None:
        if self._queue is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                logger.warning("notify:%s dropped a notice (%s of %s): no event loop runs", self.name, notice.kind, notice.agent)
                return
            self._queue = asyncio.Queue(MAX_WAITING)
            self._task = loop.create_task(self._deliver_all(self._queue), name=f"notify:{self.name}")
        try:
            self._queue.put_nowait(notice)
        except asyncio.QueueFull:
            logger.warning("notify:%s dropped a notice (%s of %s): %d are waiting", self.name, notice.kind, notice.agent, MAX_WAITING)

    async def _deliver_all(self, queue: asyncio.Queue[Notice]) -> None:
        while True:
            notice = await queue.get()
            try:
                await self.deliver(notice)
            except Exception:
                logger.exception("notify:%s could not deliver a notice (%s of %s)", self.name, notice.kind, notice.agent)
            finally:
                queue.task_done()

    async def deliver(self, notice: Notice) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        if self._queue is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), CLOSE_GRACE_S)
        except TimeoutError:
            logger.warning("notify:%s gave up on %d notices at close", self.name, self._queue.qsize())
        await cancel_and_drain(self._task)


class HookSink(QueuedSink):
    """Runs `command` in a shell for each notice, the notice as JSON on stdin, in a minimal environment."""

    name = "hook"

    def __init__(self, command: str, env: Mapping[str, str]) -> None:
        super().__init__(env)
        self.command = command

    async def deliver(self, notice: Notice) -> None:
        code = await run_bounded(["/bin/sh", "-c", self.command], self.env, notice.to_json().encode(), HOOK_TIMEOUT_S)
        if code != 0:
            logger.warning("notify:hook %r ended with %s", self.command, "a timeout" if code is None else f"exit code {code}")


class DesktopSink(QueuedSink):
    """Shows each notice as a desktop notification through `notify-send` or `osascript`."""

    name = "desktop"

    def __init__(self, program: str, env: Mapping[str, str]) -> None:
        super().__init__(env)
        self.program = program

    async def deliver(self, notice: Notice) -> None:
        await run_bounded(desktop_argv(self.program, notice), self.env, b"", DESKTOP_TIMEOUT_S)


def desktop_program(which: Callable[[str], str | None] = shutil.which, platform: str = sys.platform) -> str | None:
    """The desktop's notification program: notify-send where installed, else osascript on macOS, else None."""
    found = which("notify-send")
    if found is None and platform == "darwin":
        found = which("osascript")
    return found


def desktop_argv(program: str, notice: Notice) -> list[str]:
    """The command showing `notice`; the text goes as arguments, never into a script or a shell."""
    title = f"tokenmaxx: {notice.title}"
    if os.path.basename(program) == "osascript":
        script = ["on run argv", "display notification (item 2 of argv) with title (item 1 of argv)", "end run"]
        return [program, *(part for line in script for part in ("-e", line)), title, notice.body]
    return [program, "--app-name=tokenmaxx", "--", title, html.escape(notice.body, quote=False)]


async def run_bounded(argv: list[str], env: Mapping[str, str], stdin: bytes, timeout_s: float) -> int | None:
    """Run `argv` in a session of its own, feed it `stdin`, discard its output; None when it outlived `timeout_s`.

    Whatever it started is ended with it: its whole process group is killed once it exits or times out.
    """
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(env), start_new_session=True
    )
    timed_out = False
    try:
        async with asyncio.timeout(timeout_s):
            await process.communicate(stdin)
    except TimeoutError:
        timed_out = True
    finally:
        signal_group(process.pid, signal.SIGKILL)
        await process.wait()
    return None if timed_out else process.returncode


def passed_env(names: Iterable[str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The variables of `names` that are set, with a PATH even when none is."""
    env = {name: environ[name] for name in dict.fromkeys(names) if name in environ}
    env.setdefault("PATH", os.defpath)
    return env


def fleet_sinks(settings: NotifySettings, plan: NotifySpec, *, desktop: Callable[[], str | None] | None = None) -> list[Sink]:
    """The sinks a fleet process gives notices to: the desktop's where it has one, and the hook (the plan's before the config's)."""
    sinks: list[Sink] = []
    program = (desktop or desktop_program)() if settings.desktop else None
    if program is not None:
        sinks.append(DesktopSink(program, passed_env(DESKTOP_ENV)))
    command = plan.command or settings.command
    if command is not None:
        sinks.append(HookSink(command, passed_env([*BASE_ENV, *settings.env_pass, *plan.env_pass])))
    return sinks


def fleet_notifications(settings: NotifySettings, plan: NotifySpec) -> Notifications:
    """The log subscriber of a fleet process: desktop and hook notices, of the kinds `settings` leaves on."""
    return Notifications(Notifier(settings.kinds), fleet_sinks(settings, plan))
