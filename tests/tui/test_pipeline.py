"""The pipeline view: layers by dependency depth, edges labelled with what they hand along, keys, and repainting only on change."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import reduce_all
from tests.tui.fake_fleet import NOW, T0
from tests.tui.helpers import SIZE, fleet_of, make_app, settle
from tests.tui.pipeline_fleet import DEMO_AFTER, pipeline_events, pipeline_fleet
from tokenmaxx.tui.pipeline_drawing import draw, ghost_view, node_view
from tokenmaxx.tui.pipeline_layout import lay_out
from tokenmaxx.tui.screens.agent import AgentScreen
from tokenmaxx.tui.screens.fleet import FleetScreen
from tokenmaxx.tui.screens.pipeline import PipelineScreen
from tokenmaxx.tui.widgets.pipeline import PipelineView


def layer_names(after: dict[str, list[str]]) -> list[list[str]]:
    return [[s.key for s in layer] for layer in lay_out(after).layers]


def test_the_demo_lays_out_in_four_layers_with_long_edges_passing_through() -> None:
    assert layer_names(DEMO_AFTER) == [
        ["charts", "factcheck"],
        ["logs", "charts>deck@1", "factcheck>deck@1"],
        ["deck"],
        ["critique"],
    ]


def test_unknown_names_become_ghosts_and_a_cycle_is_cut_not_followed() -> None:
    layers = layer_names({"a": ["b"], "b": ["a"], "x": ["nowhere"]})
    assert layers[0][0] == "?nowhere" and "x" in layers[1]
    assert sorted(name for layer in layers for name in layer if ">" not in name) == ["?nowhere", "a", "b", "x"]


def test_fifty_agents_of_any_width_draw_every_box() -> None:
    wide = {f"w{i}": [] for i in range(40)} | {f"d{i}": [f"w{i * 4}", f"w{i * 4 + 1}", "d0" if i else "w39"] for i in range(10)}
    state = reduce_all([ev.AgentQueued(agent=n, role="r", provider="sim", model="m", after=a, ts=T0) for n, a in wide.items()])
    views = {a.name: node_view(a, NOW) for a in state.agents.values()}
    drawing = draw(lay_out(wide), views, "d3")
    assert set(drawing.boxes) == set(wide)
    assert all(row.cell_length == drawing.width for row in drawing.rows)


def test_edges_carry_the_upstream_artifacts_and_ghosts_say_they_are_unknown() -> None:
    state = reduce_all(pipeline_events())
    views = {a.name: node_view(a, NOW) for a in state.agents.values()} | {"ghost": ghost_view("ghost")}
    text = "\n".join(row.plain for row in draw(lay_out(DEMO_AFTER | {"ghost": []}), views, None).rows)
    assert "├─loc.svg, loc.csv" in text and "├─failures.csv" in text and "├─report.md" in text
    assert "plan changed" in text and "⚑ STALLED" in text and "iter 1 ≤$0.5000" in text
    assert "no agent by this name" in text


async def test_p_opens_the_pipeline_arrows_move_enter_zooms_and_escape_goes_back(tmp_path: Path) -> None:
    app = make_app(tmp_path, fleet=pipeline_fleet(tmp_path / "out"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("P")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PipelineScreen) and screen.selected == "charts"
        await pilot.press("right")
        assert screen.selected == "logs"
        await pilot.press("right", "right")
        assert screen.selected == "critique"
        await pilot.press("h", "h", "h", "j")
        assert screen.selected == "factcheck"
        await pilot.press("up")
        assert screen.selected == "charts"
        await pilot.press("l", "enter")
        await pilot.app.workers.wait_for_complete()
        assert isinstance(app.screen, AgentScreen) and app.screen.agent == "logs"
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_the_pipeline_redraws_only_when_what_it_shows_changed(tmp_path: Path) -> None:
    app = make_app(tmp_path, fleet=pipeline_fleet(tmp_path / "out"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("P")
        await settle(pilot)
        view = app.screen.query_one(PipelineView)
        state = fleet_of(app).state
        assert not view.show(state, NOW, "charts")
        fleet_of(app).feed(ev.Text(agent="logs", text="more words", ts=T0 + 70))
        assert not view.show(fleet_of(app).state, NOW, "charts")
        fleet_of(app).feed(ev.Artifact(agent="logs", path="logs/failures.svg", bytes=9, sha256="f", ts=T0 + 71))
        assert view.show(fleet_of(app).state, NOW, "charts")
        assert not view.show(fleet_of(app).state, NOW + 5, "charts")
