"""The token meter in a narrow terminal leaves out its lesser figures first and keeps the key ones whole."""

from __future__ import annotations

import re
from pathlib import Path

from tokenmaxx.sessions import events as ev
from tests.tui.fake_fleet import T0
from tests.tui.helpers import fleet_of, make_app, settle
from tokenmaxx.tui.widgets.token_meter import TokenMeter

KEY_FIGURES = (
    "5.8k tok",
    "in 30.7k  out 4.8k",
    "$0.0767+? sim / $5.00",
    "$2.87/h",
    "budget left 1h42m",
    "deliverables ✓0 ✗0",
    "-/accepted",
    "interventions 0",
)
LESSER_FIGURES = ("reasoning 0", "saved $0.0065", "348 tok/s", "unpriced 5.8k tok", "5 min")


def meter_lines(meter: TokenMeter) -> list[str]:
    return [row.plain for row in meter.rows()]


async def test_a_narrow_meter_keeps_the_key_figures_whole_and_fits_its_width(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        meter = app.screen.query_one(TokenMeter)
        for width in range(200, 79, -4):
            await pilot.resize_terminal(width, 24)
            lines = meter_lines(meter)
            text = "\n".join(lines)
            assert all(figure in text for figure in KEY_FIGURES), (width, text)
            assert all(len(line) <= meter.size.width for line in lines[:3]), (width, text)


async def test_the_lesser_figures_go_in_order_and_all_show_in_a_wide_terminal(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        meter = app.screen.query_one(TokenMeter)
        assert all(figure in "\n".join(meter_lines(meter)) for figure in LESSER_FIGURES)
        await pilot.resize_terminal(80, 24)
        tokens, spend, trend, _ = meter_lines(meter)
        assert tokens == "tokens  in 30.7k  out 4.8k (+14 live)  cache r 11.0k w 0  hit 36%"
        assert spend == "spend   $0.0767+? sim / $5.00  +5.8k tok  burn $2.87/h  budget left 1h42m"
        assert trend.startswith("trend   ") and trend.endswith(" deliverables ✓0 ✗0  -/accepted  interventions 0")
        assert len(trend) == len("trend   ") + 15 + len("  deliverables ✓0 ✗0  -/accepted  interventions 0")


async def test_a_narrow_meter_keeps_a_sparkline_once_deliverables_are_priced(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        fleet = fleet_of(app)
        for agent in fleet.state.agents.values():
            fleet.feed(*[ev.ArtifactReview(agent=agent.name, path=a.path, verdict="accepted", ts=T0 + 124) for a in agent.artifacts])
        await settle(pilot)
        trend = meter_lines(app.screen.query_one(TokenMeter))[2]
        assert "/accepted  interventions 0" in trend and "$-" not in trend
        assert re.fullmatch(r"trend   [▁▂▃▄▅▆▇█]{10}  deliverables ✓2 ✗0  \$0\.0384/accepted  interventions 0", trend), trend


async def test_no_burn_rate_or_budget_left_once_every_agent_has_finished(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        fleet = fleet_of(app)
        fleet.feed(*[ev.AgentFinished(agent=name, outcome="done", ts=T0 + 124) for name, a in fleet.state.agents.items() if not a.finished])
        await settle(pilot)
        spend = meter_lines(app.screen.query_one(TokenMeter))[1]
        assert "burn" not in spend and "budget left" not in spend and spend.endswith("all agents finished")
