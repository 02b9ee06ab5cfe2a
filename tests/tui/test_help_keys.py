"""Help at 80x24 scrolls to its last key without clipping the key column, lists the sort keys; the palette offers each command once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from textual.containers import VerticalScroll
from textual.widgets import DataTable

from tests.tui.helpers import make_app
from tokenmaxx.tui.screens.help import HelpScreen

NARROW = (80, 24)


async def test_help_scrolls_to_its_last_key_with_the_key_column_whole(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        for key in ("end", "pagedown"):
            await pilot.press(key)
            await pilot.pause()
            box = app.screen.query_one("#help")
            table = app.screen.query_one("#keys", DataTable)
            assert isinstance(box, VerticalScroll) and box.max_scroll_y > 0 and box.scroll_y == box.max_scroll_y
            assert box.scroll_x == 0 and box.max_scroll_x == 0 and table.scroll_x == 0 and table.max_scroll_x == 0
            assert table.virtual_size.width <= box.scrollable_content_region.width
            last_row = table.virtual_region.y + table.row_count - 1
            assert box.scroll_y <= last_row < box.scroll_y + box.scrollable_content_region.height


async def test_help_lists_the_sort_keys_even_in_the_grid(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        described = {k.description: k for k in app.screen.keys}
        sorts = {name: described[f"Sort by {name}"].keys for name in ("plan", "status", "cost", "tokens", "time")}
        assert sorts == {"plan": "0", "status": "1", "cost": "2", "tokens": "3", "time": "4"}


async def test_the_palette_offers_each_command_once(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.pause()
        titles = Counter(c.title for c in app.get_system_commands(app.screen))
        assert titles["Down"] == titles["Left"] == titles["Right"] == 1
        assert [title for title, n in titles.items() if n > 1] == []
