"""At 80x24 the agent screen's usage table keeps room for several turns beside the artifacts and the preview."""

from __future__ import annotations

from pathlib import Path

from tests.tui.helpers import make_app, settle
from tests.tui.test_snapshots import wait_for_workers
from tokenmaxx.tui.widgets.usage_table import UsageTable


async def test_the_usage_table_shows_several_rows_at_80x24(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("enter")
        await wait_for_workers(pilot)
        await settle(pilot)
        usage = app.screen.query_one(UsageTable)
        visible_rows = usage.scrollable_content_region.height - usage.header_height
        assert visible_rows >= 4, (usage.size, usage.row_count)
