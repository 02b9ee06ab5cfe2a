"""TokenMeter: the fleet's tokens, dollars, burn rate, projection and outcomes, always on screen."""

from __future__ import annotations

from textual.content import Content

from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import (
    FleetState,
    burn_rate,
    cost_per_accepted,
    seconds_to_budget,
    sparkline_buckets,
)
from tokenmaxx.tui.format import count, duration, money, status_of
from tokenmaxx.tui.widgets.row_strips import RowWidget

BAR_WIDTH = 20
SPARK_BUCKETS = 30
SPARK_SPAN_S = 300.0
_BLOCKS = " ▁▂▃▄▅▆▇█"
_NONE = Content("")

Figure = tuple[Content, ...]
"""One figure of a meter line as it reads at each level of crowding, from whole to left out; its last form holds after."""


class TokenMeter(RowWidget):
    """Four fixed lines: tokens by kind, spend against budget, trend and outcomes, agents by status.

    A line too wide for the meter leaves out its lesser figures first (cache detail, tok/s, the sparkline's width),
    so tokens in/out, spend of budget, $/h, budget left, deliverables, $/accepted and interventions stay whole.
    """

    DEFAULT_CSS = """
    TokenMeter {
        height: 6;
        padding: 0 1;
        border: round $primary 40%;
        border-title-color: $primary;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "fleet"
        self.state = FleetState()
        self.now = 0.0
        self._painted: tuple[object, ...] | None = None

    def show(self, state: FleetState, now: float) -> bool:
        """Take the latest state; refresh the lines whose figures changed. True when any figure did."""
        key = _meter_key(state, now)
        if key == self._painted:
            return False
        self._painted = key
        self.state, self.now = state, now
        title = terminal_safe_line(f"fleet · {state.name}") if state.name else "fleet"
        if title != self.border_title:
            self.border_title = title
        self.show_rows()
        return True

    def rows(self) -> list[Content]:
        state, now, width = self.state, self.now, self.size.width
        return [_fit(width, _tokens(state)), _fit(width, _spend(state, now)), _fit(width, _trend(state, now)), _agents(state, now)]


def _meter_key(state: FleetState, now: float) -> tuple[object, ...]:
    counts = tuple(sorted(state.count_by_status().items()))
    return (
        state.tokens, state.cost_usd, state.unknown_price_tokens, state.live_output_estimate,
        state.burn[-1:], state.accepted, state.rejected, state.budget_usd, state.cache_saved_usd,
        counts, len(state.flagged()), state.name, int(now),
    )


def _label(text: str) -> Content:
    return Content.styled(f"{text:<8}", "bold $primary")


def _fit(width: int, figures: list[Figure]) -> Content:
    """The line at the least crowded level that fits in `width` cells (the most crowded one when none does)."""
    for level in range(max(len(figure) for figure in figures)):
        line = Content.assemble(*(figure[min(level, len(figure) - 1)] for figure in figures))
        if line.cell_length <= width:
            break
    return line


def _whole(*parts: Content | str) -> Figure:
    """A figure that stays whole however crowded its line."""
    return (Content.assemble(*parts),)


def _until(level: int, *parts: Content | str) -> Figure:
    """A figure shown up to crowding `level`, then left out."""
    return _narrowing((level, Content.assemble(*parts)))


def _narrowing(*forms: tuple[int, Content]) -> Figure:
    """A figure that reads as each of its forms up to that form's crowding level, then is left out."""
    figure: list[Content] = []
    for level, form in forms:
        figure += [form] * (level - len(figure))
    return (*figure, _NONE)


def _tokens(state: FleetState) -> list[Figure]:
    tokens = state.tokens
    live = state.live_output_estimate
    hit = tokens.cache_hit_rate
    return [
        _whole(_label("tokens"), f"in {count(tokens.input)}  out {count(tokens.output + live)}"),
        _until(4, Content.styled(f" (+{count(live)} live)" if live else "", "$agent-active")),
        _until(3, f"  cache r {count(tokens.cache_read)} w {count(tokens.cache_write)}"),
        _until(1, f"  reasoning {count(tokens.reasoning)}"),
        _until(5, f"  hit {hit:.0%}" if hit is not None else "  hit -"),
        _until(2, "  saved ", money(state.cache_saved_usd)),
    ]


def _spend(state: FleetState, now: float) -> list[Figure]:
    return [*_spent(state), *_burn(state, now)]


def _spent(state: FleetState) -> list[Figure]:
    return [
        _whole(_label("spend")),
        _narrowing((2, _bar(state, BAR_WIDTH) + " "), (4, _bar(state, BAR_WIDTH // 2) + " ")),
        _whole(
            money(state.cost_usd, state.unknown_price_tokens, state.simulated),
            f" / {money(state.budget_usd).plain}" if state.budget_usd is not None else " (no budget)",
        ),
        _unpriced(state),
    ]


def _unpriced(state: FleetState) -> Figure:
    """Tokens of unknown price beside the dollars; under a USD budget, which cannot count them, never left out."""
    if not state.unknown_price_tokens:
        return _whole()
    tokens = count(state.unknown_price_tokens)
    unpriced = Content.styled(f"  unpriced {tokens} tok", "$cost-unknown")
    if state.budget_usd is None:
        return _until(3, unpriced)
    return (unpriced, unpriced, unpriced, Content.styled(f"  +{tokens} tok", "$cost-unknown"))


def _burn(state: FleetState, now: float) -> list[Figure]:
    """The burn rate and how long the budget lasts at it, while any agent is still at work (no rate once all finished)."""
    if state.agents and all(agent.finished for agent in state.agents.values()):
        return [_whole("  all agents finished")]
    tokens_s, usd_h = burn_rate(state, now)
    left = seconds_to_budget(state, now)
    projection = "" if left is None else f"  budget left {duration(left)}" if left > 0 else "  budget spent"
    return [
        _whole("  burn"),
        _until(1, f" {tokens_s:,.0f} tok/s"),
        _whole(f" ${usd_h:,.2f}/h", Content.styled(projection, "bold $warning" if left is not None and left < 600 else "")),
    ]


def _bar(state: FleetState, width: int) -> Content:
    if not state.budget_usd:
        return Content.styled("░" * width, "$foreground 30%")
    fraction = min(1.0, state.cost_usd / state.budget_usd)
    filled = round(fraction * width)
    colour = "$error" if fraction >= 1 else "$warning" if fraction >= 0.8 else "$meter-bar"
    return Content.assemble(Content.styled("█" * filled, colour), Content.styled("░" * (width - filled), "$foreground 30%"))


def _trend(state: FleetState, now: float) -> list[Figure]:
    per_accepted = cost_per_accepted(state)
    buckets = sparkline_buckets(state, now, SPARK_BUCKETS, SPARK_SPAN_S)
    return [
        _whole(_label("trend")),
        (*[_spark(buckets)] * 2, *[_spark(_merged(buckets, 2))] * 2, _spark(_merged(buckets, 3))),
        _until(1, Content.styled(f" {SPARK_SPAN_S / 60:.0f} min", "$foreground 60%")),
        _whole(
            f"  deliverables ✓{state.accepted} ✗{state.rejected}  ",
            money(per_accepted) if per_accepted is not None else Content("-"),
            "/accepted",
            f"  interventions {state.interventions}",
        ),
        *([_until(1, _code_outcomes(state))] if state.rework or state.lines_accepted else []),
    ]


def _code_outcomes(state: FleetState) -> str:
    """Rework rounds and lines of accepted diffs per dollar, once coding agents have any."""
    per_usd = f"  {state.lines_accepted / state.cost_usd:,.0f} lines/$" if state.cost_usd > 0 and state.lines_accepted else ""
    return f"  rework {state.rework}{per_usd}"


def _merged(buckets: list[int], by: int) -> list[int]:
    """Every `by` neighbouring buckets as one: the same span in fewer cells."""
    return [sum(buckets[i : i + by]) for i in range(0, len(buckets), by)]


def _spark(buckets: list[int]) -> Content:
    return Content.styled(sparkline(buckets), "$meter-bar")


def sparkline(values: list[int]) -> str:
    """One block character per value, scaled to the largest."""
    peak = max(values, default=0)
    if peak <= 0:
        return _BLOCKS[1] * len(values)
    return "".join(_BLOCKS[max(1, round(v / peak * (len(_BLOCKS) - 1)))] if v else _BLOCKS[1] for v in values)


_SHORT = {"running a tool": "tool", "awaiting approval": "approval", "waiting on deps": "waiting"}


def _agents(state: FleetState, now: float) -> Content:
    tallies: dict[tuple[str, str], int] = {}
    for agent in state.agents.values():
        view = status_of(agent, now)
        key = (_SHORT.get(view.label, view.label), view.tone)
        tallies[key] = tallies.get(key, 0) + 1
    parts = [Content.styled(f"{n} {label}", f"$agent-{tone}") for (label, tone), n in tallies.items()]
    return Content.assemble(_label("agents"), f"{len(state.agents)}: ", Content(" · ").join(parts) if parts else "none yet")
