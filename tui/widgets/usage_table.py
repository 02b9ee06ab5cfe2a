"""UsageTable: one row per model reply of an agent: tokens by kind and what the reply cost."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import DataTable

from sessions import events as ev
from tui.format import count, money

COLUMNS: tuple[tuple[str, int], ...] = (("turn", 4), ("in", 6), ("out", 6), ("cache r/w", 11), ("reason", 6), ("cost", 12))


class UsageTable(DataTable[Content]):
    """Usage per turn, appended as usage events arrive."""

    DEFAULT_CSS = """
    UsageTable { height: 1fr; border: round $panel-lighten-2; border-title-color: $primary; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=True)
        self.border_title = "usage per turn"
        self.turn = 0

    def on_mount(self) -> None:
        for label, width in COLUMNS:
            self.add_column(label, width=width, key=label)

    def add(self, events: list[ev.Event]) -> None:
        """Append a row for each usage event; turn events set the turn number."""
        for event in events:
            if isinstance(event, ev.TurnStarted):
                self.turn = event.turn
            elif isinstance(event, ev.UsageReported):
                self.add_row(*_row(self.turn, event))
        if self.row_count:
            self.scroll_end(animate=False)

    def reset(self) -> None:
        """Forget every row (the columns stay)."""
        self.clear()
        self.turn = 0


def _row(turn: int, usage: ev.UsageReported) -> list[Content]:
    approx = "~" if usage.estimated else ""
    unknown = usage.input_tokens + usage.output_tokens if usage.cost_usd is None else 0
    return [
        Content(str(turn)),
        Content(approx + count(usage.input_tokens)),
        Content(approx + count(usage.output_tokens)),
        Content(f"{count(usage.cache_read_tokens)}/{count(usage.cache_write_tokens)}"),
        Content(count(usage.reasoning_tokens)),
        money(usage.cost_usd or 0.0, unknown, usage.simulated),
    ]
