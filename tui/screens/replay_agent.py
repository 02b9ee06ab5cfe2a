"""ReplayAgentScreen: one agent up close at the replay cursor, with the timeline and the replay's keys."""

from __future__ import annotations

from tokenmaxx.sessions.state import AgentState, FleetState
from tokenmaxx.tui.replay_fleet import ReplayFleet
from tokenmaxx.tui.screens.agent import AgentScreen
from tokenmaxx.tui.screens.replay_controls import REPLAY_BINDINGS, ReplayControls


class ReplayAgentScreen(ReplayControls, AgentScreen):
    """The transcript is read again whenever the cursor moves back; before the agent was queued, it shows a blank agent."""

    BINDINGS = REPLAY_BINDINGS

    def __init__(self, agent: str, replay: ReplayFleet) -> None:
        super().__init__(agent)
        self.replay = replay
        self._rewinds = replay.rewinds

    def paint(self, state: FleetState, now: float) -> None:
        if self.replay.rewinds != self._rewinds:
            self._rewinds = self.replay.rewinds
            self.reload_history()
        super().paint(_with_agent(state, self.agent), self.session_now())
        self.paint_timeline(state)


def _with_agent(state: FleetState, name: str) -> FleetState:
    """`state`, with a blank entry for the agent if the cursor stands before it was queued."""
    if name in state.agents:
        return state
    return state.model_copy(update={"agents": {**state.agents, name: AgentState(name=name)}})
