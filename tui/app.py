"""TokenmaxxApp: wires a fleet, the config and the themes to the screens, and paints at a capped rate."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, TextArea
from textual.worker import Worker, WorkerState

from themes import BUILTIN_THEMES, DEFAULT_THEME, THEME_VARIABLES, load_user_themes
from tui.config import Config, save_config
from tui.control import Control
from tui.fleet_view import FleetView
from tui.format import plural
from tui.heap import HEAP_SETTLED_S, freeze_heap
from tui.screens.confirm import ConfirmModal
from tui.screens.fleet import FleetScreen
from tui.screens.help import HelpScreen, keys_of
from tui.screens.supervised import SupervisedScreen, is_printable_key
from tui.screens.theme_picker import ThemePicker

Clock = Callable[[], float]


class TokenmaxxApp(App[None]):
    """Starts nothing itself: `on_start` (e.g. `supervisor.start`) runs in a worker once the screen is up."""

    TITLE = "tokenmaxx"
    BINDINGS = [
        Binding("T", "pick_theme", "Theme", id="theme", show=False),
        Binding("question_mark", "help", "Help", id="help"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+q", "quit_app", "Quit", id="quit_ctrl", show=False, priority=True),
    ]

    def __init__(
        self,
        fleet: FleetView,
        *,
        config: Config,
        on_start: Callable[[], Awaitable[object]] | None = None,
        clock: Clock = time.time,
        freeze_heap: bool | None = None,
    ) -> None:
        super().__init__()
        self.fleet = fleet
        self.config = config
        self.on_start = on_start
        self.clock = clock
        self._freeze_heap = freeze_heap
        self.control = Control(fleet, lambda message, severity: self.notify(message, severity=severity))  # type: ignore[arg-type]
        self._painted: tuple[int, int] | None = None
        self._theme_problems = self._register_themes()

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
        self.push_screen(FleetScreen())
        for problem in self._theme_problems:
            self.notify(problem, severity="warning", timeout=10)
        self.repaint()
        self.set_interval(1 / self.config.settings.fps, self._frame, name="frame")
        if self.on_start is not None:
            self.run_worker(self.on_start(), name="start fleet", group="fleet", exit_on_error=False)
        if self._freeze_heap if self._freeze_heap is not None else not self.is_headless:
            self.call_after_refresh(freeze_heap)
            self.set_timer(HEAP_SETTLED_S, freeze_heap, name="freeze heap")

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
        self.control.deliver_due(state)
        for screen in self._visible_screens():
            screen.paint(state, now)  # type: ignore[attr-defined]

    def _visible_screens(self) -> Iterable[Screen[object]]:
        """The screens on view, top first: the top one, and those below it while modals sit on top."""
        for screen in reversed(self.screen_stack):
            if hasattr(screen, "paint") and screen.is_mounted:
                yield screen
            if not isinstance(screen, ModalScreen):
                return

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
        for active in screen.active_bindings.values():
            binding = active.binding
            if active.enabled and binding.id and binding.description and binding.action not in ("pick_theme", "quit", "quit_app"):
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
        screen = self.screen
        if isinstance(screen, SupervisedScreen):
            self.push_screen(HelpScreen(type(screen).__name__.removesuffix("Screen").lower(), keys_of(screen)))

    async def action_quit_app(self) -> None:
        await self.action_quit()

    async def action_quit(self) -> None:
        running = [a.name for a in self.fleet.state.agents.values() if not a.finished]
        if not self.fleet.live or not running:
            self.exit()
            return
        one = len(running) == 1
        names = f"{', '.join(running[:5])}{'…' if len(running) > 5 else ''}"
        question = f"{plural(len(running), 'agent')} {'is' if one else 'are'} still running ({names}). Quit and stop {'it' if one else 'them'}?"
        self.push_screen(ConfirmModal(question, yes="Quit"), lambda yes: self.exit() if yes else None)
