"""The table view: a row is rebuilt only when its agent changed and only changed lines repaint; sort, filter, cursor and mouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.color import Color
from textual.geometry import Region

from tokenmaxx.sessions import events as ev
from tests.tui.helpers import SIZE, make_app, settle
from tests.tui.test_painting import big_fleet
from tokenmaxx.tui.screens.agent import AgentScreen
from tokenmaxx.tui.widgets.agent_table import COLUMNS, STATUS_MOST, AgentTable, column_widths


def rows_text(table: AgentTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


def widths(width: int) -> dict[str, int]:
    return {label: size for (label, _), size in zip(COLUMNS, column_widths(width))}


def test_the_columns_fit_every_width_with_cost_whole_and_status_readable() -> None:
    for width in range(42, 320):
        shown = [size for size in column_widths(width) if size]
        assert 1 + sum(shown) + len(shown) - 1 <= width, width
        assert widths(width)["cost"] == 13 and widths(width)["status"] >= 18, width


def test_with_room_to_spare_the_columns_take_their_widths_and_status_and_now_the_rest() -> None:
    assert widths(112) == dict(COLUMNS)
    assert widths(120) == {**dict(COLUMNS), "status": 26, "now": 26}
    assert widths(200) == {**dict(COLUMNS), "status": STATUS_MOST, "now": 82}


def test_model_gives_way_first_then_now_then_status_then_time() -> None:
    assert widths(104) == {**dict(COLUMNS), "model": 12}
    assert widths(90) == {**dict(COLUMNS), "model": 0, "now": 21}
    assert widths(84) == {**dict(COLUMNS), "model": 0, "now": 15, "status": 22}
    assert widths(80) == {**dict(COLUMNS), "model": 0, "now": 15, "status": 18}
    assert widths(79) == {**dict(COLUMNS), "model": 0, "time": 0, "now": 18, "status": 20}


def test_in_a_very_narrow_table_agent_status_and_cost_are_left() -> None:
    assert widths(50) == {"agent": 8, "status": 26, "model": 0, "time": 0, "in/out": 0, "cost": 13, "now": 0}


async def test_a_resize_lays_the_columns_out_again_and_keeps_every_cost_whole(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("t")
        await settle(pilot)
        table = app.screen.query_one(AgentTable)
        assert "model" in rows_text(table)[0] and "WAITING ON DEPS after deck" in rows_text(table)[8]
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        lines = rows_text(table)
        assert table.widths == column_widths(80) and "model" not in lines[0]
        assert [line[51:64].rstrip() for line in lines[1:9]] == ["$0.0231 sim", "$0.0142", "$0.0019", "$0.0165 sim", "$0.0210 sim", "?", "$0.0000", "$0.0000"]
        assert all(len(line) == 80 for line in lines[:9])


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


def test_an_agent_not_yet_started_shows_no_running_time() -> None:
    from tokenmaxx.sessions.state import AgentState
    from tokenmaxx.tui.widgets.agent_table import _cells

    assert _cells(AgentState(name="deck", status="waiting"), now=100.0)[3].plain == "-"
    assert _cells(AgentState(name="deck", status="streaming", started_at=40.0), now=100.0)[3].plain == "1m00s"
