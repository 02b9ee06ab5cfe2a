"""TokenmaxxApp: wires a fleet, the config and the themes to the screens, and paints at a capped rate."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState

from tokenmaxx.sessions.safe_text import terminal_safe, terminal_safe_line
from tokenmaxx.sessions.store import StoreError, default_db_path
from tokenmaxx.sessions.store_api import StoreTarget
from tokenmaxx.themes import BUILTIN_THEMES, DEFAULT_THEME, THEME_VARIABLES, load_user_themes
from tokenmaxx.tui.config import Config, save_config
from tokenmaxx.tui.control import Control
from tokenmaxx.tui.fleet_view import FleetView, NoFleet
from tokenmaxx.tui.format import quit_question
from tokenmaxx.agents.heap import HEAP_SETTLED_S, freeze_heap
from tokenmaxx.tui.remote_fleet import RemoteFleet
from tokenmaxx.tui.replay_fleet import ReplayFleet
from tokenmaxx.tui.screens.agent import AgentScreen
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.screens.fleet import FleetScreen
from tokenmaxx.tui.screens.leave import Leave, LeaveModal
from tokenmaxx.tui.screens.help import INTRO, HelpScreen, keys_of
from tokenmaxx.tui.screens.replay import ReplayScreen
from tokenmaxx.tui.screens.replay_agent import ReplayAgentScreen
from tokenmaxx.tui.screens.sessions import SessionsScreen
from tokenmaxx.tui.screens.supervised import SupervisedScreen, is_printable_key
from tokenmaxx.tui.screens.theme_picker import ThemePicker
from tokenmaxx.tui.terminal_notice import TerminalTap
from tokenmaxx.tui.web_theme import follow_theme

Clock = Callable[[], float]


@dataclass(frozen=True)
class Watched:
    """A fleet the app shows, with the control that steers it and, for a replay opened in the app, its screen."""

    fleet: FleetView
    control: Control
    screen: Screen[None] | None = None


class TokenmaxxApp(App[None]):
    """Starts nothing itself: `on_start` (e.g. `supervisor.start`) runs in a worker once the screen is up.

    The first screen follows the fleet: a live one opens on the fleet screen, a `ReplayFleet` on
    the replay screen, none (`fleet=None`) on the session browser. `open_replay` stacks a replay,
    on its own fleet, over whatever is on view; closing it brings that back, still running.
    """

    TITLE = "tokenmaxx"
    BINDINGS = [
        Binding("T", "pick_theme", "Theme", id="theme", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+q", "quit_ctrl", "Quit", id="quit_ctrl", show=False, priority=True),
    ]

    def __init__(
        self,
        fleet: FleetView | None = None,
        *,
        config: Config,
        on_start: Callable[[], Awaitable[object]] | None = None,
        clock: Clock = time.time,
        freeze_heap: bool | None = None,
        store_path: StoreTarget | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.on_start = on_start
        self.clock = clock
        self.store_path = store_path or default_db_path()
        self._freeze_heap = freeze_heap
        self._watched = [self._watch(fleet or NoFleet())]
        self._browsing = fleet is None
        self._painted: tuple[int, int] | None = None
        self._theme_problems = self._register_themes()
        self.resume_after: str | None = None
        self._untap: Callable[[], None] | None = None
        self.attach_after: str | None = None
        self.stop_asked = False

    def _watch(self, fleet: FleetView, screen: Screen[None] | None = None) -> Watched:
        return Watched(fleet, Control(fleet, lambda message, severity: self.notify(message, severity=severity)), screen)  # type: ignore[arg-type]

    @property
    def fleet(self) -> FleetView:
        """The fleet on view: the replay on top, else the fleet the app started with."""
        return self._watched[-1].fleet

    @property
    def control(self) -> Control:
        return self._watched[-1].control

    def _register_themes(self) -> list[str]:
        for theme in BUILTIN_THEMES:
            self.register_theme(theme)
        loaded = load_user_themes(self.config.themes_dir)
        for theme in loaded.themes:
            self.register_theme(theme)
        problems = [f"theme skipped: {error}" for error in loaded.errors]
        if self.config.theme in self.available_themes:
            self.theme = self.config.theme
        else:
            problems.append(f"{self.config.path}: theme {self.config.theme!r} is not known; using {DEFAULT_THEME}")
            self.theme = DEFAULT_THEME
        return problems

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(THEME_VARIABLES)

    def on_mount(self) -> None:
        self.push_screen(self._first_screen())
        for problem in self._theme_problems:
            self.notify(problem, severity="warning", timeout=10)
        self.repaint()
        self.set_interval(1 / self.config.settings.fps, self._frame, name="frame")
        self._tap_shoulder()
        follow_theme(self)
        if self.on_start is not None:
            self.run_worker(self.on_start(), name="start fleet", group="fleet", exit_on_error=False)
        if self._freeze_heap if self._freeze_heap is not None else not self.is_headless:
            self.call_after_refresh(freeze_heap)
            self.set_timer(HEAP_SETTLED_S, freeze_heap, name="freeze heap")

    def _tap_shoulder(self) -> None:
        """Tell the live fleet's notices through the terminal (OSC 9, OSC 777 or the bell), unless the config says not to."""
        fleet, settings = self._watched[0].fleet, self.config.settings.notify
        if fleet.live and settings.terminal:
            self._untap = fleet.subscribe(TerminalTap.from_settings(settings, self.write_to_terminal))

    def write_to_terminal(self, sequence: str) -> None:
        """Write `sequence` to the terminal as it is, between frames."""
        if self._driver is not None:
            self._driver.write(sequence)

    def _first_screen(self) -> Screen[None]:
        fleet = self._watched[0].fleet
        if isinstance(fleet, ReplayFleet):
            return ReplayScreen(fleet)
        return SessionsScreen(self.store_path, closable=False) if self._browsing else FleetScreen()

    async def on_unmount(self) -> None:
        """Stop telling notices, and close the stores of the replays still open (the first fleet belongs to whoever started the app)."""
        if self._untap is not None:
            self._untap()
        for watched in reversed(self._watched[1:]):
            await _close(watched.fleet)

    def open_replay(self, session_id: str) -> None:
        """Open a stored session (id or unique prefix) in a worker and show it over what is on view.

        A session that cannot be opened (unknown, ambiguous, no database) becomes a notice. While one
        opens, another ask (enter pressed twice) is ignored rather than stacking a second replay.
        """
        if any(worker.group == "open replay" and worker.is_running for worker in self.workers):
            return
        self.run_worker(self._open_replay(session_id), name=f"replay {session_id}", group="open replay", exit_on_error=False)

    async def _open_replay(self, session_id: str) -> None:
        try:
            fleet = await ReplayFleet.open(self.store_path, session_id)
        except StoreError as error:
            self.notify(str(error), severity="error", timeout=10)
            return
        screen = ReplayScreen(fleet)
        self._watched.append(self._watch(fleet, screen))
        self.push_screen(screen)
        self.repaint()

    def agent_screen(self, agent: str) -> Screen[None]:
        """The screen that zooms into `agent` of the fleet on view: at the replay cursor for a replay, else live."""
        fleet = self.fleet
        return ReplayAgentScreen(agent, fleet) if isinstance(fleet, ReplayFleet) else AgentScreen(agent)

    def resume_on_exit(self, session_id: str) -> None:
        """Close the app so that its runner resumes `session_id` in a new one (see `runner.browse_tui`)."""
        self.resume_after = session_id
        self.exit()

    def replay_covers_something(self) -> bool:
        """True when the replay on view was opened over another screen of the app, which closing it brings back."""
        return self._watched[-1].screen is not None

    def close_replay(self) -> None:
        """Close the replay on view (its screens, modals over it and its store) and show what it covered."""
        watched = self._watched[-1]
        if watched.screen is None or watched.screen not in self.screen_stack:
            return
        popped = []
        while self.screen is not watched.screen:
            popped.append(self.pop_screen())
        popped.append(self.pop_screen())
        self._watched.pop()
        self.repaint()
        self.run_worker(_closed(watched.fleet, popped), name="close replay", group="replay", exit_on_error=False)

    def repaint(self) -> None:
        """Paint the visible screens now, whether or not the fleet changed."""
        self._painted = None
        self._frame()

    def _frame(self) -> None:
        now = self.clock()
        mark = (self.fleet.version, int(now))
        if mark == self._painted:
            return
        self._painted = mark
        state = self.fleet.state
        for screen in self._visible_screens():
            screen.paint(state, now)  # type: ignore[attr-defined]

    def _visible_screens(self) -> Iterable[Screen[object]]:
        """The screens on view, top first: the top one, and those below it while modals sit on top."""
        for screen in reversed(self.screen_stack):
            if hasattr(screen, "paint") and screen.is_mounted and screen.display:  # display is False once it closes
                yield screen
            if not isinstance(screen, ModalScreen):
                return

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information", timeout: float | None = None, markup: bool = True) -> None:
        """Every notice, whose text may name agents and files or quote a server's error, with its controls shown as placeholders."""
        super().notify(terminal_safe(message), title=terminal_safe_line(title), severity=severity, timeout=timeout, markup=markup)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place where a failed worker becomes a visible notice."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"{event.worker.name or 'background task'} failed: {error}", severity="error", timeout=15)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typing = isinstance(self.focused, (Input, TextArea))
        return not (typing and action in self._printable_actions())

    def _printable_actions(self) -> frozenset[str]:
        return frozenset(b.action for _, b in self._bindings if is_printable_key(b.key))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Theme":
                yield command
        yield SystemCommand("Theme", "Pick a theme (remembered)", self.action_pick_theme)
        offered = {"theme", "quit", "quit_ctrl"}
        for active in screen.active_bindings.values():
            binding = active.binding
            if active.enabled and binding.id and binding.description and binding.id not in offered:
                offered.add(binding.id)
                key = self.get_key_display(binding)
                yield SystemCommand(binding.description, f"{binding.tooltip or binding.description} ({key})", partial(self.run_action, binding.action, active.node))

    def action_pick_theme(self) -> None:
        names = [t.name for t in BUILTIN_THEMES] + sorted(n for n in self.available_themes if n not in {t.name for t in BUILTIN_THEMES})
        self.push_screen(ThemePicker(names), self._theme_picked)

    def _theme_picked(self, name: str | None) -> None:
        if name is None:
            return
        self.config = self.config.with_theme(name)
        try:
            save_config(self.config)
        except OSError as error:
            self.notify(f"theme not remembered: cannot write {self.config.path}: {error.strerror or error}", severity="warning")

    def action_help(self) -> None:
        """?: the keys of the screen on view, after its own intro (a screen's HELP_INTRO, else the flags' for supervised ones)."""
        screen = self.screen
        if isinstance(screen, ModalScreen):
            return
        title = type(screen).__name__.removesuffix("Screen").lower()
        intro = getattr(screen, "HELP_INTRO", INTRO if isinstance(screen, SupervisedScreen) else "")
        self.push_screen(HelpScreen(title, keys_of(screen), intro=intro))

    def action_quit(self) -> None:
        """q: close the replay on view if it covers another screen, else quit the app."""
        if self.replay_covers_something():
            self.close_replay()
        else:
            self.action_quit_app()

    def action_quit_ctrl(self) -> None:
        """ctrl+q: detach from a fleet process without asking; quit as q does otherwise."""
        if self._remote() is not None:
            self.exit()
        else:
            self.action_quit_app()

    def action_quit_app(self) -> None:
        """Quit; from a fleet process, ask whether to detach or stop it; while agents of an in-process fleet run, ask first."""
        remote = self._remote()
        if remote is not None:
            question = f"Detach from fleet {remote.session_id}? It runs on, and tokenmaxx attach comes back to it."
            self.push_screen(LeaveModal(question), self._left)
            return
        live = next((w.fleet for w in self._watched if w.fleet.live), None)
        question = quit_question(live.state.agents.values()) if live is not None else None
        if question is None:
            self.exit()
            return
        self.push_screen(ConfirmModal(question, yes="Quit"), lambda yes: self.exit() if yes else None)

    def _remote(self) -> RemoteFleet | None:
        return next((w.fleet for w in self._watched if isinstance(w.fleet, RemoteFleet)), None)

    def _left(self, choice: Leave | None) -> None:
        remote = self._remote()
        if choice is None or remote is None:
            return
        if choice == "stop":
            self.stop_asked = True
            remote.stop_fleet()
        self.exit()

    def attach_on_exit(self, session_id: str) -> None:
        """Close the app so that its runner attaches to the fleet of `session_id` (see `runner.browse_tui`)."""
        self.attach_after = session_id
        self.exit()


async def _closed(fleet: FleetView, popped: list[Awaitable[object]]) -> None:
    """Wait for a closed replay's screens to go, then close its store."""
    for screen in popped:
        await screen
    await _close(fleet)


async def _close(fleet: FleetView) -> None:
    if isinstance(fleet, ReplayFleet):
        await fleet.close()
