"""ReplayControls: the replay's keys and timeline, shared by its fleet, pipeline and agent screens; each key moves the cursor in a worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, TextArea

from tokenmaxx.sessions.player import JUMP_FRACTION, Cursor
from tokenmaxx.sessions.replay import next_marker
from tokenmaxx.sessions.state import FleetState
from tokenmaxx.tui.replay_fleet import ReplayFleet
from tokenmaxx.tui.screens.supervised import SUPERVISION_ACTIONS
from tokenmaxx.tui.widgets.timeline import Timeline

HELP_INTRO = (
    "Replay of a recorded session: the screens show the fleet as it stood at the cursor. space plays or pauses, "
    "[ and ] change the speed (1x to 1000x), left/right step one event, shift+left/right jump 10%, g/G go to the "
    "start/end, n/N to the next/previous marker (⚑ flag, ◆ intervention, ■ artifact, ✗ error). up/down, j and h/l "
    "move the selection. Supervision keys are off: a recording cannot be changed. q or esc closes the replay."
)

REPLAY_BINDINGS = [
    Binding("space", "replay_play", "Play/pause", id="replay.play", priority=True),
    Binding("left_square_bracket", "replay_speed(-1)", "Slower", id="replay.slower", priority=True),
    Binding("right_square_bracket", "replay_speed(1)", "Faster", id="replay.faster", priority=True),
    Binding("left", "replay_step(-1)", "Step back", id="replay.step_back", show=False, priority=True),
    Binding("right", "replay_step(1)", "Step", id="replay.step", show=False, priority=True),
    Binding("shift+left", "replay_jump(-1)", "Back 10%", id="replay.jump_back", show=False, priority=True),
    Binding("shift+right", "replay_jump(1)", "Ahead 10%", id="replay.jump", show=False, priority=True),
    Binding("g", "replay_edge(0)", "Start", id="replay.start", show=False, priority=True),
    Binding("G", "replay_edge(1)", "End", id="replay.end", show=False, priority=True),
    Binding("n", "replay_marker(1)", "Next marker", id="replay.next_marker", priority=True),
    Binding("N", "replay_marker(-1)", "Previous marker", id="replay.previous_marker", show=False, priority=True),
]
"""Priority bindings, so they reach the replay through a focused transcript; off while a text input has focus."""

if TYPE_CHECKING:
    _Screen = Screen[None]
else:
    _Screen = object


class ReplayControls(_Screen):
    """Mixed into a replay screen before its base screen, which sets BINDINGS to REPLAY_BINDINGS and `replay`.

    Not a Screen itself: Textual styles a screen by its first Screen base, which must stay the base screen.
    """

    HELP_INTRO = HELP_INTRO

    replay: ReplayFleet

    def compose(self) -> ComposeResult:
        """The base screen's widgets, with the timeline above its footer."""
        for widget in super().compose():
            if isinstance(widget, Footer):
                yield Timeline(id="timeline")
            yield widget

    def paint_timeline(self, state: FleetState) -> None:
        self.query_one(Timeline).show(self.replay.cursor, state, self.replay.markers)

    def session_now(self) -> float:
        """The session's own clock at the cursor: what "now" means for ages, rates and projections in a replay."""
        return self.replay.state.last_ts + self.replay.cursor.lag

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the supervision keys (pressing one still says why it is off); no replay key while typing."""
        if action in SUPERVISION_ACTIONS:
            return False
        if action.startswith("replay_") and isinstance(self.focused, (Input, TextArea)):
            return False
        return super().check_action(action, parameters)

    def action_replay_play(self) -> None:
        self._move(Cursor.toggle)

    def action_replay_speed(self, faster: int) -> None:
        self._move(Cursor.faster if faster > 0 else Cursor.slower)

    def action_replay_step(self, events: int) -> None:
        self._move(lambda cursor: cursor.step(events))

    def action_replay_jump(self, direction: int) -> None:
        self._move(lambda cursor: cursor.jump(JUMP_FRACTION * direction))

    def action_replay_edge(self, end: int) -> None:
        self._move(Cursor.to_end if end else Cursor.to_start)

    def action_replay_marker(self, direction: int) -> None:
        markers = self.replay.markers

        def to_marker(cursor: Cursor) -> Cursor:
            marker = next_marker(markers, cursor.seq, direction)
            return cursor.seek(marker.seq) if marker is not None else cursor

        self._move(to_marker)

    def _move(self, change: Callable[[Cursor], Cursor]) -> None:
        self.run_worker(self.replay.move(change), name="replay: move", group="replay", exit_on_error=False)
