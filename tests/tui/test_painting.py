"""Painting is decoupled from ingest: only changed, visible widgets refresh, and updates never relayout."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from tokenmaxx.sessions import events as ev
from tests.tui.fake_fleet import T0, FakeFleet
from tests.tui.helpers import make_app, settle
from tests.tui.sample_fleet import clock, sample_fleet
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.config import Config
from tokenmaxx.tui.widgets.agent_grid import AgentGrid
from tokenmaxx.tui.widgets.agent_pane import AgentPane
from tokenmaxx.tui.widgets.token_meter import TokenMeter


def big_fleet(agents: int) -> FakeFleet:
    fleet = FakeFleet()
    fleet.feed(ev.SessionStarted(name="big", cwd="/", version="0", ts=T0))
    for i in range(agents):
        name = f"agent{i:02d}"
        fleet.feed(
            ev.AgentQueued(agent=name, role="critic", provider="sim", model="m", ts=T0),
            ev.AgentStatusChanged(agent=name, status="streaming", ts=T0 + 1),
        )
    return fleet


async def test_only_the_pane_of_the_agent_that_changed_refreshes(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(AgentGrid)
        meter = app.screen.query_one(TokenMeter)
        state, now = app.fleet.state, app.clock()
        assert grid.paint(state.agents, now, {}) == 0 and not meter.show(state, now)
        app.fleet.feed(ev.Text(agent="charts", text="more words"))  # type: ignore[attr-defined]
        state = app.fleet.state
        assert grid.paint(state.agents, now, {}) == 1 and meter.show(state, now)


async def test_a_frame_without_a_new_event_or_second_paints_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        painted: list[int] = []
        monkeypatch.setattr(app.screen, "paint", lambda state, now: painted.append(state.seq))
        app._frame()
        app._frame()
        assert painted == []
        app.fleet.feed(ev.Text(agent="charts", text="x"))  # type: ignore[attr-defined]
        app._frame()
        app._frame()
        assert painted == [app.fleet.state.seq]


async def test_panes_out_of_view_wait_and_catch_up_when_scrolled_to(tmp_path: Path) -> None:
    fleet = big_fleet(30)
    app = make_app(tmp_path, fleet=fleet)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        grid = app.screen.query_one(AgentGrid)
        last = grid.panes["agent29"]
        fleet.feed(ev.Text(agent="agent29", text="hello from the bottom\n"))
        await settle(pilot)
        assert "hello from the bottom" not in last.render().plain
        grid.reveal("agent29")
        await settle(pilot)
        assert "hello from the bottom" in last.render().plain


async def test_panes_mounted_for_new_agents_render_only_where_they_will_be_in_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    original, rows = AgentPane.show, AgentPane.rows
    monkeypatch.setattr(AgentPane, "show", lambda pane, agent, now, queued: shown.append(agent.name) or original(pane, agent, now, queued))
    monkeypatch.setattr(AgentPane, "rows", lambda pane: shown.append(f"rows:{pane.agent.name}") or rows(pane))
    fleet = big_fleet(1)
    app = make_app(tmp_path, fleet=fleet)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for i in range(1, 60):
            fleet.feed(ev.AgentQueued(agent=f"agent{i:02d}", role="critic", provider="sim", model="m", ts=T0))
        await settle(pilot)
        assert "agent01" in shown and "rows:agent01" in shown
        assert "agent59" not in shown and "rows:agent59" not in shown
        grid = app.screen.query_one(AgentGrid)
        grid.reveal("agent59")
        await settle(pilot)
        assert "agent59" in shown and "QUEUED" in grid.panes["agent59"].render().plain


async def test_streaming_updates_never_trigger_a_relayout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = big_fleet(12)
    app = make_app(tmp_path, fleet=fleet)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot)
        screen = app.screen
        layouts: list[bool] = []
        original = screen._refresh_layout
        monkeypatch.setattr(screen, "_refresh_layout", lambda *a, **k: (layouts.append(True), original(*a, **k))[1])
        for step in range(20):
            for i in range(12):
                fleet.feed(ev.Text(agent=f"agent{i:02d}", text=f"token {step} "), ev.Text(agent=f"agent{i:02d}", text="line\n"))
            await settle(pilot)
        assert layouts == []
        assert "token 19" in screen.query_one(AgentGrid).panes["agent11"].render().plain


async def test_the_table_view_leaves_the_hidden_grid_alone(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        pane = app.screen.query_one(AgentGrid).panes["charts"]
        before = pane.agent
        app.fleet.feed(ev.Text(agent="charts", text="table time"))  # type: ignore[attr-defined]
        await settle(pilot)
        assert pane.agent is before
        await pilot.press("t")
        await settle(pilot)
        assert "table time" in pane.render().plain


async def test_the_heap_is_frozen_once_up_in_a_terminal_and_left_alone_under_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frozen: list[bool] = []
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    async with make_app(tmp_path / "test").run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert frozen == []
    config = Config(directory=tmp_path / "terminal")
    app = TokenmaxxApp(sample_fleet(), config=config, clock=clock, freeze_heap=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert frozen == [True]
