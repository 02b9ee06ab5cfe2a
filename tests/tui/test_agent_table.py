"""The table view: a row is rebuilt only when its agent changed and only changed lines repaint; sort, filter, cursor and mouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.color import Color
from textual.geometry import Region

from sessions import events as ev
from tests.tui.helpers import SIZE, make_app, settle
from tests.tui.test_painting import big_fleet
from tui.screens.agent import AgentScreen
from tui.widgets.agent_table import AgentTable


def rows_text(table: AgentTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_one_agent_changing_repaints_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = big_fleet(30)
    app = make_app(tmp_path, fleet=fleet)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await settle(pilot)
        table = app.screen.query_one(AgentTable)
        refreshed: list[Region] = []
        original = table.refresh
        monkeypatch.setattr(table, "refresh", lambda *regions, **kw: (refreshed.extend(regions), original(*regions, **kw))[1])
        fleet.feed(ev.Text(agent="agent05", text="a fresh line of output"))
        await settle(pilot)
        assert refreshed == [Region(0, 6, table.size.width, 1)]
        assert "a fresh line of output" in rows_text(table)[6]


async def test_the_table_sorts_and_filters_like_the_grid(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t", "2")
        await settle(pilot)
        table = app.screen.query_one(AgentTable)
        assert table.order[:3] == ["charts", "critic", "deck"]
        lines = rows_text(table)
        assert lines[0].split()[:3] == ["agent", "status", "model"] and lines[1].split()[0] == "charts"
        await pilot.press("slash", *"anthropic", "enter")
        await settle(pilot)
        assert table.order == ["logs", "flaky"]
        assert [line.split()[0] for line in rows_text(table)[1:3]] == ["logs", "flaky"]


async def test_the_cursor_moves_with_the_keys_and_stays_in_view(tmp_path: Path) -> None:
    app = make_app(tmp_path, fleet=big_fleet(50))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t", "j", "down")
        await settle(pilot)
        table = app.screen.query_one(AgentTable)
        assert table.selected == app.screen.selected == "agent02"  # type: ignore[attr-defined]
        await pilot.press("end")
        await settle(pilot)
        assert table.selected == "agent49" and table.top > 0
        assert rows_text(table)[-1].split()[0] == "agent49"
        assert rows_text(table)[0].rstrip().endswith("of 50")
        await pilot.press("pageup")
        await settle(pilot)
        assert table.selected == f"agent{49 - table.visible_rows:02d}"


async def test_a_click_selects_a_row_and_a_second_click_opens_it(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await settle(pilot)
        table = app.screen.query_one(AgentTable)
        await pilot.click(AgentTable, offset=(2, 3))
        await settle(pilot)
        assert app.screen.selected == "facts"  # type: ignore[attr-defined]
        assert table.selected == "facts"
        await pilot.click(AgentTable, offset=(2, 3))
        await pilot.pause()
        assert isinstance(app.screen, AgentScreen) and app.screen.agent == "facts"


async def test_a_new_theme_redraws_the_cursor_row_in_its_colours(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await settle(pilot)
        table = app.screen.query_one(AgentTable)
        for theme in ("tokenmaxx-light", "tokenmaxx-dark"):
            app.theme = theme
            await pilot.pause()
            cursor = Color.parse(app.theme_variables["block-cursor-background"]).rich_color
            assert table.render_line(1)._segments[0].style.bgcolor == cursor  # type: ignore[union-attr]


async def test_esc_after_a_kept_filter_clears_and_hides_its_input(tmp_path: Path) -> None:
    """Enter keeps a filter with its input shown; esc later must clear both, not leave stale text on screen."""
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"anthropic", "enter")
        await settle(pilot)
        assert app.screen.has_class("-filtering")
        await pilot.press("escape")
        await settle(pilot)
        assert not app.screen.has_class("-filtering")
        assert app.screen.query_one("#filter").value == ""  # type: ignore[attr-defined]
        assert app.screen.filter.text == ""  # type: ignore[attr-defined]
