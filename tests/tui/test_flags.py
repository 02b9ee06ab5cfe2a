"""The watchdog's flags name the key that answers them, in the banner, on the pane and in help; counts read as English."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.sessions import events as ev
from tests.tui.helpers import SIZE, fleet_of, make_app, pane, settle, shown
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.screens.help import HelpScreen
from tokenmaxx.tui.widgets.flag_banner import FlagBanner


async def test_the_banner_teaches_restart_before_kill_for_a_looping_agent(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        fleet_of(app).feed(ev.AgentFlagged(agent="logs", flag="burning", detail="40k tokens without a tool call"))
        await settle(pilot)
        banner = shown(app.screen.query_one(FlagBanner))
        assert "critic looping (R restart · k kill)" in banner
        assert "deck stalled (r reprompt)" in banner
        assert "logs burning (r reprompt)" in banner
        assert "LOOPING  R restart · k kill" in shown(pane(app, "critic"))


async def test_an_agent_over_budget_says_why_and_offers_no_key(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        fleet_of(app).feed(
            ev.AgentFlagged(agent="flaky", flag="over_budget", detail="$0.50 of $0.50 spent"),
            ev.AgentFinished(agent="flaky", outcome="over_budget", summary="budget of $0.50 reached"),
        )
        await settle(pilot)
        text = shown(pane(app, "flaky"))
        assert "OVER BUDGET  budget spent" in text
        assert "restart" not in text and "reprompt" not in text


async def test_help_explains_each_flag_and_its_key(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        intro = shown(app.screen.query_one("#intro"))
        assert "R restart" in intro and "k kill" in intro and "BURNING" in intro and "OVER BUDGET" in intro
        assert app.screen.query_one("#intro").size.height > 1


async def test_quitting_with_one_agent_running_speaks_of_one_agent(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        running = [name for name, agent in app.fleet.state.agents.items() if not agent.finished and name != "charts"]
        fleet_of(app).feed(*[ev.AgentFinished(agent=name, outcome="done") for name in running])
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert app.screen.question == "1 agent is still running (charts). Quit and stop it?"
