"""UsageTable: one row per model reply of an agent: tokens by kind and what the reply cost."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import DataTable

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.export import costs_differ
from tokenmaxx.tui.format import count, money, money_plain

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
        self.cost_usd: float | None = 0.0
        self.harness_cost_usd: float | None = None

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
                self._count(event)
        if self.row_count:
            self.scroll_end(animate=False)

    def reset(self) -> None:
        """Forget every row (the columns stay)."""
        self.clear()
        self.turn = 0
        self.cost_usd, self.harness_cost_usd = 0.0, None
        self.border_subtitle = ""

    def _count(self, usage: ev.UsageReported) -> None:
        """Keep our total beside the harness's own (Claude Code prices its turns itself) and show both."""
        if self.cost_usd is not None:
            self.cost_usd = None if usage.cost_usd is None else self.cost_usd + usage.cost_usd
        if usage.harness_cost_usd is None:
            return
        self.harness_cost_usd = (self.harness_cost_usd or 0.0) + usage.harness_cost_usd
        differs = costs_differ(self.cost_usd, self.harness_cost_usd)
        self.border_subtitle = f"the harness says {money_plain(self.harness_cost_usd)}" + (" · differs" if differs else "")


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
