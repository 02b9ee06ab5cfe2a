"""The zoomed transcript shows the line an agent is still streaming, after a kill and restart too."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.agents.providers.base import ModelRequest
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.store import Store
from tests.agents.scripted import Hang, ScriptedProvider, Step, make_plan, reply, until
from tests.tui.helpers import SIZE, settle
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.config import Config
from tokenmaxx.tui.fleet_view import LiveFleet
from tokenmaxx.tui.screens.agent import AgentScreen
from tokenmaxx.tui.widgets.transcript import Transcript

AGENT = """
[[agents]]
name = "a"
role = "chart-builder"
task = "Write a note."
"""


def half_a_line_then_silence(request: ModelRequest) -> list[Step]:
    return [*reply("Reading the git history to count lines")[:-2], Hang()]


def transcript_lines(app: TokenmaxxApp) -> list[str]:
    return [strip.text.rstrip() for strip in app.screen.query_one(Transcript).lines]


async def test_the_turn_in_progress_shows_its_streamed_text_after_a_kill_and_restart(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "sessions.db") as store:
        provider = ScriptedProvider(half_a_line_then_silence)
        supervisor = Supervisor.create(make_plan(tmp_path, AGENT), store, providers={"sim": provider})
        app = TokenmaxxApp(LiveFleet(supervisor), config=Config(directory=tmp_path / "config"), on_start=supervisor.start)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await until(lambda: supervisor.state.agents["a"].partial_line.endswith("count lines"))
                await pilot.press("ctrl+k")
                await until(lambda: supervisor.state.agents["a"].status == "killed")
                await pilot.press("R")
                await until(lambda: len(provider.requests) == 2 and supervisor.state.agents["a"].partial_line.endswith("count lines"))
                await pilot.press("enter")
                assert isinstance(app.screen, AgentScreen)
                await until(lambda: app.screen.loaded)  # type: ignore[attr-defined]
                await settle(pilot)
                lines = transcript_lines(app)
                last_turn = max(i for i, line in enumerate(lines) if line.startswith("── turn"))
                assert "Reading the git history to count lines" in lines[last_turn + 1 :], lines
                supervisor.emit(ev.Text(agent="a", text=" by author.\nThen the chart"))
                await settle(pilot)
                lines = transcript_lines(app)
                assert lines[last_turn + 1 :] == ["Reading the git history to count lines by author.", "Then the chart"], lines
        finally:
            await supervisor.finish()
            await store.flush()
