"""At 80x24: help and quit stay in the footer of every screen, and the palette key covers the footer's last cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from tests.tui.helpers import make_app, settle

NARROW = (80, 24)


@pytest.mark.parametrize("keys", [(), ("enter",), ("P",), ("s",)], ids=["fleet", "agent", "pipeline", "sessions"])
async def test_help_and_quit_stay_in_the_footer_at_80_columns(tmp_path: Path, keys: tuple[str, ...]) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=NARROW) as pilot:
        await pilot.press(*keys)
        await settle(pilot)
        footer = app.screen.query_one(Footer)
        shown = {key.action: key.region for key in footer.query(FooterKey)}
        palette = shown.pop("command_palette")
        assert palette.right == NARROW[0], palette
        for action in ("help", "quit"):
            assert shown[action].right <= palette.x, (action, shown)
