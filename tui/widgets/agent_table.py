"""AgentTable: one row per agent for large fleets, updating only the rows whose agent changed."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content
from textual.widgets import DataTable

from sessions.state import AgentState
from tui.format import count, doing, duration, money, status_of

COLUMNS: tuple[tuple[str, int], ...] = (
    ("agent", 12),
    ("status", 22),
    ("model", 20),
    ("time", 6),
    ("in/out", 11),
    ("cost", 12),
    ("now", 22),
)


class AgentTable(DataTable[Content]):
    """Rows in the order the fleet screen gives; the cursor follows its agent when the order changes."""

    DEFAULT_CSS = """
    AgentTable { height: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.order: list[str] = []
        self._painted: dict[str, tuple[object, ...]] = {}

    def on_mount(self) -> None:
        for label, width in COLUMNS:
            self.add_column(label, width=width, key=label)

    @property
    def selected(self) -> str | None:
        """The agent under the cursor."""
        if not self.order or not 0 <= self.cursor_row < len(self.order):
            return None
        return self.order[self.cursor_row]

    def select(self, name: str | None) -> None:
        if name in self.order and self.selected != name:
            self.move_cursor(row=self.order.index(name), animate=False)

    def paint(
        self, agents: list[AgentState], now: float, queued: Mapping[str, str], tagged: frozenset[str]
    ) -> int:
        """Show these agents in this order; returns how many rows changed."""
        names = [a.name for a in agents]
        if names != self.order:
            self._rebuild(agents, now, queued, tagged)
            return len(agents)
        changed = 0
        for agent in agents:
            key = (agent, queued.get(agent.name), agent.name in tagged, _tick(agent, now))
            previous = self._painted.get(agent.name)
            if previous is not None and previous[0] is key[0] and previous[1:] == key[1:]:
                continue
            self._painted[agent.name] = key
            for (column, _), value in zip(COLUMNS, _cells(agent, now, queued.get(agent.name), agent.name in tagged)):
                self.update_cell(agent.name, column, value)
            changed += 1
        return changed

    def _rebuild(self, agents: list[AgentState], now: float, queued: Mapping[str, str], tagged: frozenset[str]) -> None:
        keep = self.selected
        self.clear()
        self._painted.clear()
        for agent in agents:
            self.add_row(*_cells(agent, now, queued.get(agent.name), agent.name in tagged), key=agent.name)
            self._painted[agent.name] = (agent, queued.get(agent.name), agent.name in tagged, _tick(agent, now))
        self.order = [a.name for a in agents]
        if keep in self.order:
            self.move_cursor(row=self.order.index(keep), animate=False)


def _tick(agent: AgentState, now: float) -> int | None:
    return int(now) if agent.started_at is not None and agent.ended_at is None else None


def _cells(agent: AgentState, now: float, queued: str | None, tagged: bool) -> list[Content]:
    mark = Content.styled("● ", "bold $primary") if tagged else Content("")
    return [
        Content.assemble(mark, Content.styled(agent.name, "bold")),
        _status(agent, now),
        Content(f"{agent.provider}/{agent.model}"),
        Content(duration(agent.elapsed(now))),
        Content(f"{count(agent.tokens.input)}/{count(agent.shown_output_tokens)}"),
        money(agent.cost_usd, agent.unknown_price_tokens, agent.simulated),
        _now(agent, queued),
    ]


def _status(agent: AgentState, now: float) -> Content:
    view = status_of(agent, now)
    others = [f.upper().replace("_", " ") for f in agent.flags if f != view.tone]
    if not others:
        return view.content()
    return Content.assemble(Content.styled(f"⚑ {' '.join(others)} ", "bold $agent-failed"), view.content())


def _now(agent: AgentState, queued: str | None) -> Content:
    return doing(agent, queued, Content(agent.lines[-1] if agent.lines else ""))
