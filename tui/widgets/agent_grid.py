"""AgentGrid: the fleet as a scrolling grid of fixed-size AgentPanes, as many columns as the width allows.

The panes' size changes only when the grid is resized or the number of agents shown changes: a few
agents share the height, many scroll at the smallest pane height. Data updates never relayout.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual import events
from textual.containers import VerticalScroll
from textual.css.scalar import Scalar
from textual.geometry import Region, Size

from tokenmaxx.sessions.state import AgentState
from tokenmaxx.tui.widgets.agent_pane import PANE_HEIGHT, AgentPane

MIN_PANE_WIDTH = 38
MAX_COLUMNS = 4


class AgentGrid(VerticalScroll, can_focus=False):
    """Panes in the order given; only panes in view repaint, the others catch up when scrolled to."""

    DEFAULT_CSS = f"""
    AgentGrid {{
        layout: grid;
        grid-size: 3;
        grid-rows: {PANE_HEIGHT};
        grid-gutter: 0 1;
        height: 1fr;
        scrollbar-size-vertical: 1;
    }}
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.panes: dict[str, AgentPane] = {}
        self.order: list[str] = []
        self._pending: dict[str, tuple[AgentState, float, str | None]] = {}

    @property
    def columns(self) -> int:
        """The columns the grid lays out now."""
        return self.styles.grid_size_columns

    @property
    def pane_height(self) -> int:
        """The rows each pane takes now."""
        rows = self.styles.grid_rows
        return int(rows[0].value) if rows else PANE_HEIGHT

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size)
        self.call_after_refresh(self._catch_up)

    def _fit(self, size: Size) -> None:
        """Choose the columns and the pane height for this size and the number of panes shown."""
        shown = max(1, len(self.order))
        widest = max(1, min(MAX_COLUMNS, size.width // MIN_PANE_WIDTH))
        rows = -(-shown // widest)
        columns = -(-shown // rows)
        height = max(PANE_HEIGHT, size.height // rows)
        if self.styles.grid_size_columns != columns:
            self.styles.grid_size_columns = columns
        if self.styles.grid_rows != (Scalar.from_number(height),):
            self.styles.grid_rows = (height,)

    def show_agents(self, agents: list[AgentState]) -> None:
        """Show exactly these agents, in this order (mounting and removing panes only when that changes)."""
        names = [a.name for a in agents]
        if names == self.order:
            return
        resized = len(names) != len(self.order)
        gone = [pane for name, pane in self.panes.items() if name not in names]
        for pane in gone:
            del self.panes[str(pane.agent.name)]
            pane.remove()
        new = [AgentPane(a) for a in agents if a.name not in self.panes]
        self.panes.update({pane.agent.name: pane for pane in new})
        if new:
            self.mount_all(new)
        self.order = names
        for index, name in enumerate(names):
            if self.children.index(self.panes[name]) != index:
                self.move_child(self.panes[name], before=index)
        if resized and self.size:
            self._fit(self.size)

    def paint(self, agents: Mapping[str, AgentState], now: float, queued: Mapping[str, str]) -> int:
        """Hand each visible pane its agent's latest state; returns how many panes refreshed."""
        window = self._window()
        refreshed = 0
        for index, name in enumerate(self.order):
            pane = self.panes[name]
            latest = (agents.get(name, pane.agent), now, queued.get(name))
            if window is not None and self._in_view(index, pane, window):
                refreshed += pane.show(*latest)
                self._pending.pop(name, None)
            else:
                self._pending[name] = latest
        return refreshed

    def mark(self, selected: str | None, tagged: frozenset[str]) -> None:
        for name, pane in self.panes.items():
            pane.mark(selected=name == selected, tagged=name in tagged)

    def reveal(self, name: str) -> None:
        """Scroll so that the pane of `name` is in view."""
        if name in self.panes:
            self.scroll_to_widget(self.panes[name], animate=False, immediate=True)

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._catch_up()

    def _catch_up(self) -> None:
        window = self._window()
        if window is None:
            return
        position = {name: index for index, name in enumerate(self.order)}
        for name, latest in list(self._pending.items()):
            pane = self.panes.get(name)
            if pane is not None and self._in_view(position.get(name, 0), pane, window):
                pane.show(*latest)
                del self._pending[name]

    def _window(self) -> Region | None:
        if not self.display or not self.size:
            return None
        size = self.scrollable_content_region.size
        return Region(0, int(self.scroll_y), max(1, size.width), max(1, size.height))

    def _in_view(self, index: int, pane: AgentPane, window: Region) -> bool:
        """True when the pane shows in the window, or would where the grid will lay it out (the `index`th) when it has not yet."""
        region = pane.virtual_region
        if not region.area:
            height = self.pane_height
            region = Region(0, index // max(1, self.columns) * height, window.width, height)
        return region.overlaps(window)
