"""Shared helpers of the TUI tests: build the app on the sample fleet, read what a widget shows."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widget import Widget

from tests.tui.fake_fleet import FakeFleet
from tests.tui.sample_fleet import clock, sample_fleet
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.config import Config, Settings
from tokenmaxx.tui.widgets.agent_grid import AgentGrid
from tokenmaxx.tui.widgets.agent_pane import AgentPane

SIZE = (120, 40)


def make_app(tmp_path: Path, *, live: bool = True, fleet: FakeFleet | None = None, theme: str = "tokenmaxx-dark") -> TokenmaxxApp:
    """The app on the sample fleet (or `fleet`), config under `tmp_path`, the clock fixed."""
    config = Config(directory=tmp_path / "config", settings=Settings(theme=theme))
    return TokenmaxxApp(fleet or sample_fleet(tmp_path / "out", live=live), config=config, clock=clock)


def fleet_of(app: TokenmaxxApp) -> FakeFleet:
    assert isinstance(app.fleet, FakeFleet)
    return app.fleet


def shown(widget: Widget) -> str:
    """The plain text a widget renders."""
    rendered = widget.render()
    return getattr(rendered, "plain", str(rendered))


def pane(app: TokenmaxxApp, name: str) -> AgentPane:
    return app.screen.query_one(AgentGrid).panes[name]


async def settle(pilot: Pilot[None]) -> None:
    """Let messages run, then paint the current state."""
    await pilot.pause()
    pilot.app.repaint()  # type: ignore[attr-defined]
    await pilot.pause()


async def select(pilot: Pilot[None], name: str) -> None:
    """Put the fleet screen's cursor on `name`."""
    screen = pilot.app.screen
    screen.selected = name  # type: ignore[attr-defined]
    await settle(pilot)
