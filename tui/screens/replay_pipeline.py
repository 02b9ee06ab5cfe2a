"""ReplayPipelineScreen: the pipeline at the replay cursor, with the timeline and the replay's keys."""

from __future__ import annotations

from tokenmaxx.sessions.state import FleetState
from tokenmaxx.tui.replay_fleet import ReplayFleet
from tokenmaxx.tui.screens.pipeline import PipelineScreen
from tokenmaxx.tui.screens.replay_controls import REPLAY_BINDINGS, ReplayControls


class ReplayPipelineScreen(ReplayControls, PipelineScreen):
    """Ages and rates in the boxes run on the session's clock at the cursor; h/l move between layers, left/right step."""

    BINDINGS = REPLAY_BINDINGS

    def __init__(self, replay: ReplayFleet, selected: str | None = None) -> None:
        super().__init__(selected)
        self.replay = replay

    def paint(self, state: FleetState, now: float) -> None:
        super().paint(state, self.session_now())
        self.paint_timeline(state)
