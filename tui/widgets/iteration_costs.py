"""IterationCosts: what each run of a looping agent cost, apart, the one running marked."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tokenmaxx.sessions.state import AgentState
from tokenmaxx.tui.format import iteration_label
from tokenmaxx.tui.headless import money


class IterationCosts(Static):
    """Hidden for an agent that runs once; updated only when a cost or the iteration changed."""

    DEFAULT_CSS = """
    IterationCosts { height: auto; padding: 0 1; border: round $panel-lighten-2; border-title-color: $primary; display: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "iterations"
        self._shown: tuple[object, ...] | None = None

    def show(self, agent: AgentState) -> bool:
        """Take the agent's state; True when what it shows changed."""
        label = iteration_label(agent)
        key = (label, agent.costs_by_iteration, agent.finished, agent.unknown_price_tokens > 0)
        if key == self._shown:
            return False
        self._shown = key
        self.display = bool(label) or agent.iteration > 1
        self.border_title = f"iterations · {label}" if label else "iterations"
        self.update(describe(agent))
        return True


def describe(agent: AgentState) -> Content:
    """`1: $0.1200 · 2: $0.1000 · 3: $0.0300 (running)`."""
    costs = agent.costs_by_iteration
    parts = []
    for number, cost in enumerate(costs, 1):
        running = number == len(costs) and not agent.finished
        text = f"{number}: {money(cost)}" + (" (running)" if running else "")
        parts.append(Content.styled(text, "bold" if running else ""))
    return Content(" · ").join(parts)
