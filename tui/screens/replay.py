"""ReplayScreen: the fleet screen fed from a recorded session, with a timeline and the replay's keys."""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import ModalScreen

from tokenmaxx.sessions.state import FleetState
from tokenmaxx.tui.agent_filter import AgentFilter
from tokenmaxx.tui.replay_fleet import ReplayFleet
from tokenmaxx.tui.screens.fleet import FleetScreen
from tokenmaxx.tui.screens.replay_controls import REPLAY_BINDINGS, ReplayControls
from tokenmaxx.tui.screens.replay_pipeline import ReplayPipelineScreen

TICK_S = 0.05
MAX_TICK_S = 0.5
"""A longer pause between ticks (a busy loop, a suspended laptop) plays as this much, not as a jump."""


class ReplayScreen(ReplayControls, FleetScreen):
    """Plays on a timer while the cursor plays, and follows a session that is still being recorded.

    Playing goes on under the replay's own pipeline and agent screens, and waits under any other full screen.
    """

    BINDINGS = [
        *REPLAY_BINDINGS,
        Binding("escape", "clear", "Back", id="replay.back", tooltip="Clear the tags, else the filter, else close the replay"),
    ]

    def __init__(self, replay: ReplayFleet) -> None:
        super().__init__()
        self.replay = replay
        self._ticked_at = 0.0
        self._ticking = False

    def on_mount(self) -> None:
        self._ticked_at = self.cockpit.clock()
        self.set_interval(TICK_S, self._tick, name="replay tick")

    def paint(self, state: FleetState, now: float) -> None:
        super().paint(state, self.session_now())
        self.paint_timeline(state)

    def _tick(self) -> None:
        """Hand the wall-clock time since the last tick to the player, one tick at a time."""
        if self._ticking:
            return
        now = self.cockpit.clock()
        dt, self._ticked_at = min(max(now - self._ticked_at, 0.0), MAX_TICK_S), now
        cursor = self.replay.cursor
        if (cursor.playing or cursor.live) and self._in_front():
            self._ticking = True
            self.run_worker(self._advance(dt), name="replay: play", group="replay-tick", exit_on_error=False)

    def _in_front(self) -> bool:
        """True while the top full screen is one of this replay's: modals over it (help, a notice) do not stop it."""
        for screen in reversed(self.app.screen_stack):
            if not isinstance(screen, ModalScreen):
                return isinstance(screen, ReplayControls) and screen.replay is self.replay
        return False

    async def _advance(self, dt: float) -> None:
        try:
            await self.replay.tick(dt)
        finally:
            self._ticking = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear" and self._closable():
            return True
        return super().check_action(action, parameters)

    def _closable(self) -> bool:
        """True when esc closes the replay: nothing to clear, and a screen of the app waits beneath it."""
        nothing_to_clear = not self.tagged and self.filter == AgentFilter() and not self.has_class("-filtering")
        return nothing_to_clear and self.cockpit.replay_covers_something()

    def action_clear(self) -> None:
        if self._closable():
            self.cockpit.close_replay()
        else:
            super().action_clear()

    def action_pipeline(self) -> None:
        self.app.push_screen(ReplayPipelineScreen(self.replay, self.selected))
