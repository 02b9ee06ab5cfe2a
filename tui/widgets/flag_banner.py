"""FlagBanner: one line that counts the agents needing a human and names the key for each."""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from tokenmaxx.sessions.state import AgentState, FleetState
from tokenmaxx.tui.format import flag_hint, one_line

NOT_LIVE = "replay: supervision keys are off (this fleet is a recording, not a live run)"


class FlagBanner(Widget):
    """Loud when a watchdog flag, a pending approval or a rejected plan edit waits; quiet otherwise."""

    DEFAULT_CSS = """
    FlagBanner {
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $foreground 70%;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        &.-alert { background: $error; color: $background; text-style: bold; }
        &.-replay { background: $secondary 40%; color: $foreground; }
    }
    """

    def __init__(self, *, live: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.live = live
        self.message = ""
        self._painted: str | None = None

    def show(self, state: FleetState) -> bool:
        """Take the latest state; refresh only when the message changes. True when it refreshed."""
        needs = [a for a in state.agents.values() if not a.finished and (a.flags or a.pending)]
        message = one_line(_message(needs, state.plan_error))
        if message == self._painted:
            return False
        self.message = self._painted = message
        self.set_class(bool(message), "-alert")
        self.set_class(not message and not self.live, "-replay")
        self.refresh()
        return True

    def render(self) -> Content:
        if self.message:
            return Content(self.message)
        return Content(NOT_LIVE if not self.live else "all agents fine: nothing needs you")


def _message(needs: list[AgentState], plan_error: str | None) -> str:
    """The plan edit first, apart from the agents it is not one of: 'plan edit rejected: … · ⚑ 1 agent needs you: …'."""
    parts = [f"plan edit rejected: {plan_error}"] if plan_error else []
    if needs:
        noun = "agent needs" if len(needs) == 1 else "agents need"
        parts.append(f"⚑ {len(needs)} {noun} you: " + ", ".join(_need(agent) for agent in needs))
    return " · ".join(parts)


def _need(agent: AgentState) -> str:
    if agent.pending:
        return f"{agent.name} awaits approval (A)"
    flag = agent.flags[0]
    return f"{agent.name} {flag.replace('_', ' ')} ({flag_hint(flag)})"
