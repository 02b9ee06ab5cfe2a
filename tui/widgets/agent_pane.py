"""AgentPane: one agent at a glance in a fixed-size box, repainted only when what it shows changed."""

from __future__ import annotations

from functools import lru_cache

from textual.content import Content

from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import AgentState
from tokenmaxx.tui.format import (
    TONES,
    count,
    doing,
    duration,
    flag_badges,
    iteration_label,
    money,
    one_line,
    plan_note,
    status_of,
)
from tokenmaxx.tui.widgets.row_strips import RowWidget

PANE_HEIGHT = 10
"""The smallest pane; the grid makes panes taller when few agents leave the screen half empty."""
FIXED_LINES = 5
"""Headline, model, spend, what it does now, flags and plan notes; the rows below them show the tail of its output."""


class AgentPane(RowWidget):
    """Status, model, elapsed, tokens, dollars, current tool, flags and the last lines of output, wrapped to fit."""

    DEFAULT_CSS = """
    AgentPane {
        height: 1fr;
        padding: 0 1;
        border: round $foreground 30%;
        border-title-color: $foreground;
        border-title-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        &.-active { border: round $agent-active 60%; }
        &.-approval { border: heavy $agent-approval; }
        &.-stalled { border: heavy $agent-stalled; }
        &.-looping { border: heavy $agent-looping; }
        &.-done { border: round $agent-done 50%; }
        &.-failed { border: round $agent-failed; }
        &.-killed { border: round $agent-killed; }
        &.-tagged { background: $primary 15%; border-subtitle-color: $primary; }
        &.-selected { border: double $primary; }
    }
    """

    def __init__(self, agent: AgentState, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.agent = agent
        self.now = 0.0
        self.queued: str | None = None
        self.border_title = terminal_safe_line(f"{agent.name} · {agent.role}" if agent.role else agent.name)
        self._painted: tuple[object, ...] | None = None

    def show(self, agent: AgentState, now: float, queued: str | None) -> bool:
        """Take the latest state; refresh only the rows that would look different. True when the state was new."""
        key = (agent, queued, _ticking_second(agent, now))
        if self._painted is not None and _same(self._painted, key):
            return False
        self._painted = key
        self.agent, self.now, self.queued = agent, now, queued
        tone = status_of(agent, now).tone
        for name in TONES:
            self.set_class(name == tone, f"-{name}")
        self.show_rows()
        return True

    def shows_rows_when_resized(self) -> bool:
        """Only once shown: a pane never shown yet is shown by its grid when it comes into view."""
        return self._painted is not None

    def mark(self, *, selected: bool, tagged: bool) -> None:
        """Show the cursor and the bulk-action tag."""
        self.set_class(selected, "-selected")
        self.set_class(tagged, "-tagged")
        subtitle = "tagged" if tagged else ""
        if subtitle != (self.border_subtitle or ""):
            self.border_subtitle = subtitle

    def rows(self) -> list[Content]:
        """What the pane shows, one Content per row, the tail of the output wrapped to the pane's width."""
        agent, now = self.agent, self.now
        rows = [
            _headline(agent, now),
            Content.styled(terminal_safe_line(f"{agent.provider}/{agent.model}"), "$foreground 60%"),
            _spend(agent),
            _now_line(agent, self.queued),
            _notes(agent),
            *tail_rows(agent.lines, self.size.width, self.size.height - FIXED_LINES),
        ]
        return [row.stylize("dim") for row in rows] if agent.withdrawn else rows


def _same(painted: tuple[object, ...], key: tuple[object, ...]) -> bool:
    return painted[0] is key[0] and painted[1:] == key[1:]


def _ticking_second(agent: AgentState, now: float) -> int | None:
    """The second that the pane's clock shows, for agents whose clock runs."""
    running = agent.started_at is not None and agent.ended_at is None
    return int(now) if running or agent.status == "retrying" else None


def _headline(agent: AgentState, now: float) -> Content:
    parts = [status_of(agent, now).content()]
    if agent.started_at is not None:  # a queued or waiting agent has no running time to show
        parts.append(Content.styled(f"  {duration(agent.elapsed(now))}", "$foreground 70%"))
    iteration = iteration_label(agent)
    if iteration:
        parts.append(Content.styled(f"  {iteration}", "bold $secondary"))
    return Content.assemble(*parts)


def _notes(agent: AgentState) -> Content:
    """The watchdog's flags, then what a plan edit means for the agent."""
    note = plan_note(agent)
    if not note:
        return flag_badges(agent)
    return Content.assemble(flag_badges(agent), Content.styled(f" {note}" if agent.flags else note, "italic $warning"))


def _spend(agent: AgentState) -> Content:
    live = "↑" if agent.live_output_estimate else ""
    return Content.assemble(
        f"in {count(agent.tokens.input)}  out {count(agent.shown_output_tokens)}{live}  ",
        money(agent.cost_usd, agent.unknown_price_tokens, agent.simulated),
    )


def _now_line(agent: AgentState, queued: str | None) -> Content:
    if agent.finished and agent.summary and queued is None:
        return Content.styled(one_line(agent.summary), "$foreground 80%")
    idle = f"turn {agent.turn}  tools {agent.tool_calls}" if agent.turn else ""
    return doing(agent, queued, Content.styled(idle, "$foreground 50%"))


def tail_rows(lines: tuple[str, ...], width: int, rows: int) -> list[Content]:
    """The last `rows` screen rows of the non-blank `lines`, each line wrapped to `width` cells."""
    if rows <= 0:
        return []
    shown: list[str] = []
    for line in reversed(lines):
        if line.strip():
            shown[:0] = wrapped(line, max(1, width))
            if len(shown) >= rows:
                break
    return [Content.styled(row, "$foreground 80%") for row in shown[-rows:]]


@lru_cache(maxsize=4096)
def wrapped(line: str, width: int) -> tuple[str, ...]:
    """`line` with its controls shown, word-wrapped to rows of at most `width` cells (kept: finished lines are wrapped once, not every frame)."""
    return tuple(row.plain.rstrip() for row in Content(terminal_safe_line(line.expandtabs(4))).wrap(width))
