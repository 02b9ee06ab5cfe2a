"""The app on a real supervisor and store (scripted model): kill, pause, reprompt and the transcript, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual.pilot import Pilot

from tokenmaxx.agents.providers.base import ModelRequest, TextPart
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

AGENTS = """
[[agents]]
name = "a"
role = "chart-builder"
task = "Write a note."

[[agents]]
name = "b"
role = "critic"
task = "Critique the note."
"""


def hang_until_told(request: ModelRequest) -> list[Step]:
    """Say a word and hang, unless the last message is from the supervisor: then finish."""
    if any(isinstance(p, TextPart) and "[supervisor]" in p.text for p in request.messages[-1].parts):
        return reply("Understood, finishing.")
    return [*reply("thinking\n")[:1], Hang()]


@asynccontextmanager
async def live_app(tmp_path: Path) -> AsyncIterator[tuple[TokenmaxxApp, Supervisor, Store]]:
    async with await Store.open(tmp_path / "sessions.db") as store:
        supervisor = Supervisor.create(make_plan(tmp_path, AGENTS), store, providers={"sim": ScriptedProvider(hang_until_told)})
        app = TokenmaxxApp(LiveFleet(supervisor), config=Config(directory=tmp_path / "config"), on_start=supervisor.start)
        try:
            yield app, supervisor, store
        finally:
            await supervisor.finish()
            await store.flush()


async def streaming(pilot: Pilot[None], supervisor: Supervisor, name: str) -> None:
    await until(lambda: name in supervisor.state.agents and supervisor.state.agents[name].status == "streaming")
    pilot.app.screen.selected = name  # type: ignore[attr-defined]
    await settle(pilot)


async def test_k_really_kills_and_nothing_of_the_agent_follows(tmp_path: Path) -> None:
    async with live_app(tmp_path) as (app, supervisor, store):
        async with app.run_test(size=SIZE) as pilot:
            await streaming(pilot, supervisor, "a")
            await pilot.press("k", "y")
            await until(lambda: supervisor.state.agents["a"].status == "killed")
            await settle(pilot)
            assert supervisor.state.agents["b"].status == "streaming"
        await store.flush()
        recorded = await store.events(supervisor.session_id, agent="a")
        kinds = [e.kind for e in recorded]
        assert "supervisor_action" in kinds and kinds[-1] == "agent_finished"
        last = recorded[-1]
        assert isinstance(last, ev.AgentFinished) and last.outcome == "killed"


async def test_p_asks_for_a_pause_and_p_again_resumes(tmp_path: Path) -> None:
    async with live_app(tmp_path) as (app, supervisor, store):
        async with app.run_test(size=SIZE) as pilot:
            await streaming(pilot, supervisor, "a")
            await pilot.press("p")
            await settle(pilot)
            assert supervisor.runs["a"].paused
            await pilot.press("p")
            await settle(pilot)
            assert not supervisor.runs["a"].paused
        await store.flush()
        actions = [e.action for e in await store.events(supervisor.session_id, agent="a") if isinstance(e, ev.SupervisorAction)]
        assert actions == ["pause", "resume"]


async def test_r_with_ctrl_n_reprompts_a_busy_agent_now_and_it_finishes(tmp_path: Path) -> None:
    async with live_app(tmp_path) as (app, supervisor, store):
        async with app.run_test(size=SIZE) as pilot:
            await streaming(pilot, supervisor, "b")
            await pilot.press("r", *"wrap it up", "ctrl+n")
            await until(lambda: supervisor.state.agents["b"].outcome == "done")
            assert supervisor.state.agents["b"].summary == "Understood, finishing."
        await store.flush()
        reprompts = [e for e in await store.events(supervisor.session_id, agent="b") if isinstance(e, ev.SupervisorAction)]
        assert [(e.action, e.text) for e in reprompts] == [("reprompt", "wrap it up")]


async def test_the_agent_screen_reads_the_record_and_follows_live(tmp_path: Path) -> None:
    async with live_app(tmp_path) as (app, supervisor, _store):
        async with app.run_test(size=SIZE) as pilot:
            await streaming(pilot, supervisor, "a")
            await pilot.press("enter")
            assert isinstance(app.screen, AgentScreen)
            await until(lambda: app.screen.loaded)  # type: ignore[attr-defined]
            supervisor.emit(ev.Text(agent="a", text="a live line\n"))
            await settle(pilot)
            lines = "\n".join(strip.text for strip in app.screen.query_one(Transcript).lines)
            assert "task: Write a note." in lines and "thinking" in lines and lines.count("a live line") == 1
