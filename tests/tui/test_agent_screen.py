"""Pilot tests of the agent screen: history from a worker, live events after it, artifacts and their review."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.agents import commands as cmd
from tokenmaxx.sessions import events as ev
from tests.tui.helpers import SIZE, fleet_of, make_app, select, settle, shown
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.format import money_plain
from tokenmaxx.tui.screens.agent import AgentScreen
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.widgets.agent_pane import AgentPane
from tokenmaxx.tui.widgets.artifact_preview import ArtifactPreview
from tokenmaxx.tui.widgets.transcript import Transcript
from tokenmaxx.tui.widgets.usage_table import UsageTable
from textual.pilot import Pilot
from textual.widgets import Static


async def zoom(pilot: Pilot[None], name: str) -> AgentScreen:
    await select(pilot, name)
    await pilot.press("enter")
    screen = pilot.app.screen
    assert isinstance(screen, AgentScreen)
    await pilot.app.workers.wait_for_complete()
    await settle(pilot)
    return screen


def transcript_text(app: TokenmaxxApp) -> str:
    return " ".join(strip.text.rstrip() for strip in app.screen.query_one(Transcript).lines)


async def test_the_transcript_holds_the_history_then_live_events_once_each(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        screen = await zoom(pilot, "charts")
        text = transcript_text(app)
        assert "Reading git log for line counts." in text and '▶ write_file {"path": "loc.svg"}' in text
        assert "✓ 0s  wrote loc.svg" in text and "── turn 2" in text
        fleet_of(app).feed(ev.Text(agent="charts", text=" done.\n"), ev.ToolCall(agent="charts", call_id="c2", tool="read_file", args={}))
        fleet_of(app).feed(ev.Text(agent="logs", text="not mine\n"))
        await settle(pilot)
        text = transcript_text(app)
        assert "The chart shows steady growth; now writing the caption done." in text
        assert text.count("▶ read_file") == 1 and "not mine" not in text
        assert fleet_of(app).reads == 1 and screen.loaded


async def test_usage_per_turn_and_the_agent_summary(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await zoom(pilot, "charts")
        usage = app.screen.query_one(UsageTable)
        assert usage.row_count == 1 and usage.get_row_at(0)[0].plain == "1"
        assert "STREAMING" in shown(app.screen.query_one(AgentPane))


async def test_the_artifact_preview_shows_the_file_text(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await zoom(pilot, "charts")
        await app.workers.wait_for_complete()
        await settle(pilot)
        preview = app.screen.query_one(ArtifactPreview)
        assert "charts/loc.svg" in str(preview.border_title)
        assert "polyline" in preview.query_one("#preview-text", Static).content.code  # type: ignore[union-attr]


async def test_a_missing_artifact_file_says_so(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        (tmp_path / "out" / "local" / "summary.md").unlink()
        await zoom(pilot, "local")
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert "cannot read" in str(app.screen.query_one("#preview-text", Static).content)


async def test_a_and_x_on_the_agent_screen_review_the_highlighted_artifact(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await zoom(pilot, "local")
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.Accept(agent="local", path="local/summary.md"), cmd.Reject(agent="local", path="local/summary.md")]


async def test_supervision_keys_act_on_the_zoomed_agent(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await zoom(pilot, "critic")
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmModal)
        await pilot.press("y")
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.Pause(agent="critic"), cmd.Kill(agent="critic")]
        assert "■ killed" in transcript_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, AgentScreen)


async def test_a_narrow_terminal_wraps_the_transcript_to_its_column(tmp_path: Path) -> None:
    """At 80 columns the transcript is ~38 wide: every line must fit it, none cut off at the border."""
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await zoom(pilot, "charts")
        log = app.screen.query_one(Transcript)
        width = log.scrollable_content_region.width
        assert width < 78
        assert log.lines and all(strip.cell_length <= width for strip in log.lines)
        assert "Reading git log for line counts." in " ".join(strip.text.strip() for strip in log.lines)


async def test_the_usage_table_shows_the_harness_price_and_when_it_differs_from_ours(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await zoom(pilot, "charts")
        usage = app.screen.query_one(UsageTable)
        assert not usage.border_subtitle
        ours = usage.cost_usd or 0.0

        def priced(cost: float, harness: float) -> ev.UsageReported:
            return ev.UsageReported(agent="charts", provider="p", model="m", input_tokens=10, output_tokens=5, cost_usd=cost, harness_cost_usd=harness)

        fleet_of(app).feed(priced(0.01, ours + 0.01))
        await settle(pilot)
        assert usage.border_subtitle == f"the harness says {money_plain(ours + 0.01)}"
        fleet_of(app).feed(priced(0.01, 0.5))
        await settle(pilot)
        assert str(usage.border_subtitle).endswith("· differs")
