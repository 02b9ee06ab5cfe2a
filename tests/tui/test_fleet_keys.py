"""Pilot tests of every supervision key on the fleet screen, against the fake fleet."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.agents import commands as cmd
from tests.tui.helpers import SIZE, fleet_of, make_app, pane, select, settle, shown
from tokenmaxx.tui.screens.agent import AgentScreen
from tokenmaxx.tui.screens.approvals import ApprovalsModal
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.screens.fleet import FleetScreen
from tokenmaxx.tui.screens.reprompt import RepromptModal
from tokenmaxx.tui.screens.supervised import NO_APPROVALS
from tokenmaxx.sessions import events as ev


async def test_k_asks_then_kills_the_selected_agent(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "deck")
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmModal) and "deck" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.Kill(agent="deck")]
        assert app.fleet.state.agents["deck"].status == "killed"
        assert "KILLED" in shown(pane(app, "deck"))


async def test_k_then_n_kills_nothing(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "deck")
        await pilot.press("k", "n")
        await settle(pilot)
        assert fleet_of(app).commands == [] and isinstance(app.screen, FleetScreen)


async def test_ctrl_k_kills_without_asking(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "critic")
        await pilot.press("ctrl+k")
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        assert fleet_of(app).commands == [cmd.Kill(agent="critic")]


async def test_p_pauses_and_p_again_resumes(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "logs")
        await pilot.press("p")
        await settle(pilot)
        assert app.fleet.state.agents["logs"].status == "paused"
        assert "PAUSED" in shown(pane(app, "logs"))
        await pilot.press("p")
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.Pause(agent="logs"), cmd.Resume(agent="logs")]


async def test_capital_r_restarts(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "critic")
        await pilot.press("R")
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.Restart(agent="critic")]


async def test_r_sends_a_reprompt_to_an_idle_agent_at_once(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "deck")
        fleet_of(app).feed(ev.AgentStatusChanged(agent="deck", status="starting"))
        await settle(pilot)
        await pilot.press("r")
        assert isinstance(app.screen, RepromptModal)
        await pilot.press(*"Finish the outline", "enter", *"then stop", "ctrl+s")
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.Reprompt(agent="deck", text="Finish the outline\nthen stop")]


async def test_a_reprompt_for_a_busy_agent_is_queued_in_the_fleet(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "charts")
        await pilot.press("r", *"add a caption", "ctrl+s")
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.QueueReprompt(agent="charts", text="add a caption")]
        assert "queued reprompt: add a caption" in shown(pane(app, "charts"))
        fleet_of(app).feed(ev.SupervisorAction(agent="charts", action="reprompt", text="add a caption"))  # the fleet delivered it
        await settle(pilot)
        assert "queued" not in shown(pane(app, "charts"))


async def test_a_queued_reprompt_can_be_edited_and_dropped(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "charts")
        await pilot.press("r", *"first", "ctrl+s")
        await settle(pilot)
        await pilot.press("r")
        assert isinstance(app.screen, RepromptModal) and app.screen.queued == "first"
        await pilot.press("end", *" and second", "ctrl+s")
        await settle(pilot)
        assert app.control.queued("charts") == "first and second"
        await pilot.press("r", "ctrl+r")
        await settle(pilot)
        assert app.control.queued("charts") is None and fleet_of(app).commands[-1] == cmd.DropReprompt(agent="charts")
        assert not any(isinstance(c, cmd.Reprompt) for c in fleet_of(app).commands)
        assert "queued" not in shown(pane(app, "charts"))


async def test_space_tags_agents_for_a_bulk_kill(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "deck")
        await pilot.press("space")
        await select(pilot, "critic")
        await pilot.press("space")
        await settle(pilot)
        assert pane(app, "deck").has_class("-tagged") and pane(app, "critic").has_class("-tagged")
        await pilot.press("k")
        assert isinstance(app.screen, ConfirmModal) and "deck, critic" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.Kill(agent="deck"), cmd.Kill(agent="critic")]


async def test_tagged_agents_pause_and_reprompt_together(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        for name in ("deck", "logs"):
            await select(pilot, name)
            await pilot.press("space")
        await pilot.press("p")
        await settle(pilot)
        await pilot.press("r", *"wrap up", "ctrl+s")
        await settle(pilot)
        assert fleet_of(app).commands == [
            cmd.Pause(agent="logs"), cmd.Pause(agent="deck"),
            cmd.Reprompt(agent="logs", text="wrap up"), cmd.Reprompt(agent="deck", text="wrap up"),
        ]
        await pilot.press("escape")
        await settle(pilot)
        assert not app.screen.tagged  # type: ignore[attr-defined]


async def test_capital_s_asks_then_stops_all_and_again_resumes_the_stopped_set(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("S")
        assert isinstance(app.screen, ConfirmModal) and "S resumes them" in app.screen.question
        await pilot.press("y")
        await settle(pilot)
        stopped = set(app.fleet.state.stopped)
        assert stopped and all(app.fleet.state.agents[n].status == "paused" for n in stopped)
        assert any("S resumes them" in str(n.message) for n in app._notifications)
        await pilot.press("S")
        await settle(pilot)
        assert [type(c) for c in fleet_of(app).commands] == [cmd.StopAll, cmd.ResumeAll]
        assert not app.fleet.state.stopped


async def test_capital_s_then_n_stops_nothing(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("S", "n")
        await settle(pilot)
        assert fleet_of(app).commands == [] and isinstance(app.screen, FleetScreen)


async def test_capital_a_opens_the_approvals_queue(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        assert isinstance(app.screen, ApprovalsModal)
        await settle(pilot)
        assert [(name, p.call_id) for name, p in app.screen.waiting] == [("facts", "f1")]


async def test_a_and_x_review_the_selected_agents_latest_deliverable(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "charts")
        await pilot.press("a")
        await select(pilot, "local")
        await pilot.press("x")
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.Accept(agent="charts", path="charts/loc.svg"), cmd.Reject(agent="local", path="local/summary.md")]
        assert (app.fleet.state.accepted, app.fleet.state.rejected) == (1, 1)


async def test_review_keys_are_off_for_an_agent_without_deliverables(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "deck")
        await pilot.press("a", "x")
        await settle(pilot)
        assert fleet_of(app).commands == []
        assert app.screen.active_bindings["a"].enabled is False


async def test_arrows_and_hjl_move_the_cursor_across_the_grid(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert screen.selected == "charts"  # type: ignore[attr-defined]
        await pilot.press("l")
        assert screen.selected == "logs"  # type: ignore[attr-defined]
        await pilot.press("j")
        assert screen.selected == "critic"  # type: ignore[attr-defined]
        await pilot.press("h")
        assert screen.selected == "deck"  # type: ignore[attr-defined]
        await pilot.press("up", "right", "down", "left")
        assert screen.selected == "deck"  # type: ignore[attr-defined]
        await settle(pilot)
        assert pane(app, "deck").has_class("-selected") and not pane(app, "charts").has_class("-selected")


async def test_enter_zooms_and_esc_comes_back(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "logs")
        await pilot.press("enter")
        assert isinstance(app.screen, AgentScreen) and app.screen.agent == "logs"
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_a_refused_command_becomes_a_notice_not_a_crash(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "local")
        await pilot.press("R")
        fleet_of(app).feed(ev.AgentFinished(agent="logs", outcome="done"))
        app.control.kill(["logs"])
        await settle(pilot)
        assert any("logs has already finished" in str(n.message) for n in app._notifications)
        assert app.is_running


async def test_supervision_keys_are_off_in_a_replay_and_say_why(tmp_path: Path) -> None:
    app = make_app(tmp_path, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "deck")
        await pilot.press("k", "p", "r", "ctrl+k")
        await settle(pilot)
        assert fleet_of(app).commands == [] and isinstance(app.screen, FleetScreen)
        assert any("supervision keys are off" in str(n.message) for n in app._notifications)
        assert app.screen.active_bindings["k"].enabled is False


async def test_capital_a_with_no_call_waiting_says_so(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("A")
        await settle(pilot)
        await pilot.press("y", "escape")  # approves f1, the only call waiting
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, FleetScreen)
        assert [str(n.message) for n in app._notifications] == [NO_APPROVALS]


async def test_x_on_an_accepted_deliverable_rejects_it_and_says_so(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "charts")

        async def press(key: str) -> list[str]:
            before = len(app._notifications)
            await pilot.press(key)
            await settle(pilot)
            return [str(n.message) for n in list(app._notifications)[before:]]

        assert await press("a") == []  # a first verdict is no news
        assert await press("x") == ["charts/loc.svg: accepted → rejected"]
        assert (app.fleet.state.accepted, app.fleet.state.rejected) == (0, 1)
