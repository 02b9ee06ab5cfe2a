"""Pilot tests of the approvals queue, the theme picker, help, quit, the command palette and notices."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tokenmaxx.agents import commands as cmd
from tokenmaxx.sessions import events as ev
from tests.tui.helpers import SIZE, fleet_of, make_app, select, settle
from tokenmaxx.tui.config import load_config
from tokenmaxx.tui.screens.approvals import ApprovalsModal
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.screens.fleet import FleetScreen
from tokenmaxx.tui.screens.help import HelpScreen
from tokenmaxx.tui.screens.theme_picker import ThemePicker


def second_approval() -> ev.ApprovalRequested:
    return ev.ApprovalRequested(agent="logs", call_id="l2", tool="write_file", args={"path": "x.md"})


async def test_approve_always_allow_and_deny_from_the_queue(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        fleet_of(app).feed(second_approval(), ev.ApprovalRequested(agent="deck", call_id="d1", tool="run_command", args={}))
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalsModal) and len(app.screen.waiting) == 3
        await pilot.press("y")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert fleet_of(app).commands == [
            cmd.Approve(agent="facts", call_id="f1"),
            cmd.Approve(agent="logs", call_id="l2", always=True),
            cmd.Deny(agent="deck", call_id="d1"),
        ]
        assert app.screen.waiting == [] and app.screen.active_bindings["y"].enabled is False
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_the_theme_picker_switches_live_and_remembers(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("T")
        assert isinstance(app.screen, ThemePicker)
        await pilot.press("down")
        assert app.theme == "tokenmaxx-light"
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "tokenmaxx-light" and isinstance(app.screen, FleetScreen)
    assert load_config(tmp_path / "config").theme == "tokenmaxx-light"


async def test_escape_in_the_theme_picker_restores_the_theme(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("T", "down", "down", "escape")
        await pilot.pause()
        assert app.theme == "tokenmaxx-dark"
    assert not (tmp_path / "config" / "config.toml").exists()


async def test_a_broken_user_theme_is_named_in_a_notice_and_the_rest_load(tmp_path: Path) -> None:
    themes = tmp_path / "config" / "themes"
    themes.mkdir(parents=True)
    (themes / "ok.toml").write_text('name = "mine"\nprimary = "#123456"\n')
    (themes / "bad.toml").write_text('primary = "nope"\n')
    app = make_app(tmp_path, theme="mine")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == "mine"
        assert any("bad.toml" in str(n.message) and "primary" in str(n.message) for n in app._notifications)


async def test_an_unknown_configured_theme_falls_back_with_a_notice(tmp_path: Path) -> None:
    app = make_app(tmp_path, theme="gone")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.theme == "tokenmaxx-dark"
        assert any("'gone' is not known" in str(n.message) for n in app._notifications)


async def test_help_lists_the_keys_of_the_screen(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        described = {k.description: k for k in app.screen.keys}
        assert {"Kill", "Kill now", "Reprompt", "Pause", "Restart", "Accept", "Reject", "Approvals", "Stop all", "Tag", "Zoom", "Theme"} <= set(described)
        assert described["Kill now"].keys == "^k" and "j" in described["Down"].keys
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_q_asks_while_agents_run(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmModal) and "still running" in app.screen.question
        await pilot.press("n")
        assert app.is_running
        await pilot.press("q", "y")
        await pilot.pause()
    assert app.return_code == 0


async def test_q_quits_at_once_when_every_agent_has_finished(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        fleet_of(app).feed(*[ev.AgentFinished(agent=name, outcome="done") for name in app.fleet.state.agents])
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_the_command_palette_offers_the_supervision_actions(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "deck")
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        assert {"Kill", "Reprompt", "Pause", "Restart", "Approvals", "Stop all", "Theme", "Zoom"} <= set(titles)
        assert "Accept" not in titles
        await titles["Kill now"].callback()
        await settle(pilot)
        assert fleet_of(app).commands == [cmd.Kill(agent="deck")]


async def test_typing_in_the_filter_never_fires_letter_keys(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"kqprxSA", "backspace")
        await settle(pilot)
        assert fleet_of(app).commands == [] and isinstance(app.screen, FleetScreen)
        assert "k" not in app.screen.active_bindings and "q" not in app.screen.active_bindings


async def test_a_failing_worker_becomes_a_visible_notice(tmp_path: Path) -> None:
    async def broken_start() -> None:
        raise RuntimeError("the provider exploded")

    app = make_app(tmp_path)
    app.on_start = broken_start
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert any("the provider exploded" in str(n.message) for n in app._notifications)
        assert app.is_running


async def test_on_start_runs_in_a_worker_after_the_screen_is_up(tmp_path: Path) -> None:
    started = asyncio.Event()
    app = make_app(tmp_path)

    async def start() -> None:
        assert isinstance(app.screen, FleetScreen)
        started.set()

    app.on_start = start
    async with app.run_test(size=SIZE):
        await asyncio.wait_for(started.wait(), 5)
