"""AgentTable: one row per agent for large fleets; a row is rebuilt only when its agent changed, and only changed lines repaint."""

from __future__ import annotations

from collections.abc import Mapping

from textual import events
from textual.content import Content
from textual.message import Message

from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import AgentState
from tokenmaxx.tui.format import (
    count,
    doing,
    duration,
    iteration_label,
    money,
    plan_note,
    status_of,
)
from tokenmaxx.tui.widgets.row_strips import RowWidget

COLUMNS: tuple[tuple[str, int], ...] = (
    ("agent", 12),
    ("status", 22),
    ("model", 20),
    ("time", 5),
    ("in/out", 11),
    ("cost", 13),
    ("now", 22),
)
"""Each column's label and its width when there is room; cost is wide enough for any cost under $1,000 ($123.45+? sim)."""
SHRINK: tuple[tuple[str, int], ...] = (
    ("model", 12),
    ("model", 0),
    ("now", 15),
    ("status", 18),
    ("time", 0),
    ("in/out", 0),
    ("agent", 8),
    ("now", 0),
)
"""What gives way in a narrow table, in order: a column narrowed down to a width, or left out at 0; status keeps its
longest label (AWAITING APPROVAL, and its ellipsis) and cost never gives way, as a cut price reads as a wrong one."""
STATUS_MOST = 50
"""Spare room goes half to status, up to this width, and the rest to now."""
SCROLL_ROWS = 3
LOOKS = {
    "header": "bold $foreground on $panel",
    "cursor": "bold $block-cursor-foreground on $block-cursor-background",
    "stripe": "on $surface-lighten-1 50%",
}
"""Theme variables, resolved when a line is drawn, so a new theme only redraws; the cursor's colours cover the cells'."""


class AgentTable(RowWidget, can_focus=False):
    """Rows in the order the fleet screen gives; the cursor row (`select`) always stays in view."""

    DEFAULT_CSS = """
    AgentTable {
        height: 1fr;
        background: $surface;
    }
    """

    class Clicked(Message):
        """A row was clicked; `again` when it was the cursor row already."""

        def __init__(self, name: str, again: bool) -> None:
            super().__init__()
            self.name = name
            self.again = again

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.order: list[str] = []
        self.selected: str | None = None
        self.top = 0
        self._rows: dict[str, tuple[tuple[object, ...], Content]] = {}
        self._styled: dict[str, tuple[str, Content]] = {}
        self._painted: tuple[list[AgentState], float, Mapping[str, str], frozenset[str]] = ([], 0.0, {}, frozenset())
        self._width = 0
        self.widths = column_widths(0)

    @property
    def visible_rows(self) -> int:
        """How many agent rows fit under the header."""
        return max(1, self.size.height - 1)

    def paint(self, agents: list[AgentState], now: float, queued: Mapping[str, str], tagged: frozenset[str]) -> int:
        """Show these agents in this order; returns how many rows were rebuilt."""
        self._painted = (agents, now, queued, tagged)
        if not self.size:
            return 0
        rebuilt = 0
        self._lay_out(self.size.width)
        for agent in agents:
            key = (agent, queued.get(agent.name), agent.name in tagged, _tick(agent, now))
            known = self._rows.get(agent.name)
            if known is None or known[0][0] is not agent or known[0][1:] != key[1:]:
                self._rows[agent.name] = (key, _row(agent, now, queued.get(agent.name), agent.name in tagged, self.widths, self._width))
                self._styled.pop(agent.name, None)
                rebuilt += 1
        names = [a.name for a in agents]
        if names != self.order:
            self.order = names
            self._rows = {name: self._rows[name] for name in names}
            self._styled = {name: self._styled[name] for name in names if name in self._styled}
            self._keep_in_view()
        self.show_rows()
        return rebuilt

    def _lay_out(self, width: int) -> None:
        """Size the columns for `width` and forget the rows built for another width."""
        if width != self._width:
            self._width, self.widths = width, column_widths(width)
            self._rows.clear()
            self._styled.clear()

    def select(self, name: str | None) -> None:
        """Put the cursor on `name`, scrolling it into view."""
        if name != self.selected:
            self.selected = name
            self._keep_in_view()
            self.show_rows()

    def on_resize(self) -> None:
        self._keep_in_view()
        self.paint(*self._painted)

    def on_click(self, event: events.Click) -> None:
        index = self.top + event.y - 1
        if event.y >= 1 and 0 <= index < len(self.order):
            name = self.order[index]
            self.post_message(self.Clicked(name, again=name == self.selected))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._scroll(SCROLL_ROWS)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scroll(-SCROLL_ROWS)

    def _scroll(self, rows: int) -> None:
        self.top = max(0, min(len(self.order) - self.visible_rows, self.top + rows))
        self.show_rows()

    def _keep_in_view(self) -> None:
        index = self.order.index(self.selected) if self.selected in self.order else 0
        self.top = max(0, min(self.top, index, len(self.order) - self.visible_rows))
        if index >= self.top + self.visible_rows:
            self.top = index - self.visible_rows + 1

    def rows(self) -> list[Content]:
        """The header, then the rows in view, the cursor row and every other row styled."""
        shown = self.order[self.top : self.top + self.visible_rows]
        lines = [self._header(self.size.width)]
        for index, name in enumerate(shown, self.top):
            lines.append(self._line(name, "cursor" if name == self.selected else "stripe" if index % 2 else ""))
        return lines

    def _line(self, name: str, part: str) -> Content:
        """The row of `name` styled as the cursor, a stripe or plain, kept until the row or its style changes."""
        styled = self._styled.get(name)
        if styled is None or styled[0] != part:
            styled = self._styled[name] = (part, _styled(self._rows[name][1], part))
        return styled[1]

    def _header(self, width: int) -> Content:
        labels = Content(" ").join(Content(label).truncate(size, pad=True) for (label, _), size in zip(COLUMNS, self.widths) if size)
        last = len(self.order) and min(len(self.order), self.top + self.visible_rows)
        where = f"{self.top + 1}-{last} of {len(self.order)} " if len(self.order) > self.visible_rows else ""
        header = Content.assemble(" ", labels).truncate(max(0, width - len(where)), pad=True) + where
        return header.stylize_before(LOOKS["header"])


def column_widths(width: int) -> tuple[int, ...]:
    """Each column's width in a table `width` cells wide, 0 for one left out: `SHRINK` steps until they fit, then spare room to status and now."""
    sizes = dict(COLUMNS)
    for label, least in SHRINK:
        over = _spanned(sizes) - (width - 1)
        if over <= 0:
            break
        if sizes[label] > least:
            sizes[label] = max(least, sizes[label] - over) if least else 0
    spare = width - 1 - _spanned(sizes)
    if spare > 0:
        status = min(spare // 2 if sizes["now"] else spare, max(0, STATUS_MOST - sizes["status"]))
        sizes["status"] += status
        sizes["now"] += spare - status if sizes["now"] else 0
    return tuple(sizes[label] for label, _ in COLUMNS)


def _spanned(sizes: Mapping[str, int]) -> int:
    """The cells the shown columns take, a space between each two."""
    shown = [size for size in sizes.values() if size]
    return sum(shown) + len(shown) - 1


def _styled(row: Content, part: str) -> Content:
    if not part:
        return row
    return row.stylize(LOOKS[part]) if part == "cursor" else row.stylize_before(LOOKS[part])


def _tick(agent: AgentState, now: float) -> int | None:
    return int(now) if agent.started_at is not None and agent.ended_at is None else None


def _row(agent: AgentState, now: float, queued: str | None, tagged: bool, widths: tuple[int, ...], width: int) -> Content:
    """The agent's cells, each cut to its column (the columns left out skipped), as one line `width` cells wide."""
    cells = [*_cells(agent, now), _now(agent, queued, widths[-1])]
    if tagged:
        cells[0] = Content.assemble(Content.styled("● ", "bold $primary"), cells[0])
    fitted = [cell.truncate(size, ellipsis=True, pad=True) for cell, size in zip(cells, widths) if size]
    row = Content.assemble(" ", Content(" ").join(fitted)).truncate(width, ellipsis=True, pad=True)
    return row.stylize("dim") if agent.withdrawn else row


def _cells(agent: AgentState, now: float) -> list[Content]:
    return [
        Content.styled(terminal_safe_line(agent.name), "bold"),
        _status(agent, now),
        Content(terminal_safe_line(f"{agent.provider}/{agent.model}")),
        Content(duration(agent.elapsed(now)) if agent.started_at is not None else "-"),  # not started: no running time
        Content(f"{count(agent.tokens.input)}/{count(agent.shown_output_tokens)}"),
        money(agent.cost_usd, agent.unknown_price_tokens, agent.simulated),
    ]


def _status(agent: AgentState, now: float) -> Content:
    view = status_of(agent, now)
    others = [f.upper().replace("_", " ") for f in agent.flags if f != view.tone]
    if not others:
        return view.content()
    return Content.assemble(Content.styled(f"⚑ {' '.join(others)} ", "bold $agent-failed"), view.content())


def _now(agent: AgentState, queued: str | None, width: int) -> Content:
    """Its loop iteration and plan note, then what it does now; its last line of output cut first, as measuring a long line is slow."""
    last = agent.lines[-1][: width + 1] if agent.lines else ""
    iteration, note = iteration_label(agent), plan_note(agent)
    lead = [Content.styled(f"{iteration} · ", "bold $secondary")] if iteration else []
    lead += [Content.styled(f"{note} · ", "italic $warning")] if note else []
    return Content.assemble(*lead, doing(agent, queued, Content(terminal_safe_line(last))))
