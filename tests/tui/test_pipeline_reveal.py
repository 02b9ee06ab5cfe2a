"""At 80x24 the pipeline opens scrolled to the box of the agent selected on the fleet screen."""

from __future__ import annotations

from pathlib import Path

from textual.geometry import Region

from tests.tui.helpers import make_app, select, settle
from tokenmaxx.tui.screens.pipeline import PipelineScreen
from tokenmaxx.tui.widgets.pipeline import PipelineView


async def test_the_pipeline_opens_with_its_selection_in_view(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await select(pilot, "flaky")
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, PipelineScreen) and app.screen.selected == "flaky"
        view = app.screen.query_one(PipelineView)
        box = view.drawing.boxes["flaky"]
        window = Region(view.scroll_offset.x, view.scroll_offset.y, *view.scrollable_content_region.size)
        assert view.max_scroll_y > 0 and window.contains_region(box), (box, window)
