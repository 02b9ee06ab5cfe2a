"""Pane size: a few agents share the screen's height, many scroll at the smallest height; the tail wraps to the pane."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tokenmaxx.sessions import events as ev
from tests.tui.helpers import SIZE, make_app, pane, settle, shown
from tests.tui.test_painting import big_fleet
from tokenmaxx.tui.widgets.agent_grid import AgentGrid
from tokenmaxx.tui.widgets.agent_pane import FIXED_LINES, PANE_HEIGHT, tail_rows

LONG = "The deck needs a caption for every chart, a source line for every claim and one slide per finding, ending at THE-END"


def test_the_tail_is_the_last_rows_of_the_output_wrapped_to_the_width() -> None:
    rows = tail_rows(("first line", "", "alpha beta gamma delta epsilon", "zeta eta"), width=12, rows=4)
    assert [row.plain for row in rows] == ["alpha beta", "gamma delta", "epsilon", "zeta eta"]
    assert tail_rows(("x",), width=10, rows=0) == []


async def test_a_long_line_wraps_inside_the_pane_instead_of_ending_in_an_ellipsis(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        charts = pane(app, "charts")
        height = charts.outer_size.height
        app.fleet.feed(ev.Text(agent="charts", text=f"\n{LONG}"))  # type: ignore[attr-defined]
        await settle(pilot)
        rows = shown(charts).splitlines()[FIXED_LINES:]
        assert "THE-END" in rows[-1] and not any("…" in row for row in rows)
        assert " ".join(rows).split() == LONG.split()[-len(" ".join(rows).split()):]
        assert all(len(row) <= charts.size.width for row in rows)
        assert charts.outer_size.height == height


@pytest.mark.parametrize(("agents", "columns", "rows"), [(5, 3, 2), (2, 2, 1), (1, 1, 1)])
async def test_a_few_agents_share_the_height(tmp_path: Path, agents: int, columns: int, rows: int) -> None:
    app = make_app(tmp_path, fleet=big_fleet(agents))
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(AgentGrid)
        heights = {p.outer_size.height for p in grid.panes.values()}
        assert grid.columns == columns and heights == {grid.size.height // rows}
        assert grid.size.height - rows * heights.pop() < rows
        assert grid.max_scroll_y == 0


async def test_many_agents_scroll_at_the_smallest_pane_height(tmp_path: Path) -> None:
    app = make_app(tmp_path, fleet=big_fleet(50))
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(AgentGrid)
        assert grid.columns == 4 and grid.max_scroll_y > 0
        assert {p.outer_size.height for p in grid.panes.values()} == {PANE_HEIGHT}


async def test_filtering_down_to_a_few_agents_makes_their_panes_taller(tmp_path: Path) -> None:
    app = make_app(tmp_path, fleet=big_fleet(30))
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"agent0[12]", "enter")
        await settle(pilot)
        grid = app.screen.query_one(AgentGrid)
        assert sorted(grid.panes) == ["agent01", "agent02"]
        assert {p.outer_size.height for p in grid.panes.values()} == {grid.size.height}


async def test_a_pane_shows_a_running_time_only_once_its_agent_has_started(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        waiting, running = (shown(pane(app, name)).split("\n")[0] for name in ("review", "charts"))
        assert "WAITING ON DEPS" in waiting and not re.search(r"\d+s\b", waiting), waiting
        assert re.search(r"  \d+m\d\ds", running), running
