"""The replay in the TUI: every key, supervision off with the reason, the state shown equals the reducer's, the pipeline and agent screens, open and close."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.supervisor import CommandError
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.player import Cursor
from tokenmaxx.sessions.state import reduce_all
from tokenmaxx.sessions.store import Store
from tests.tui.helpers import SIZE, make_app, shown
from tests.tui.replay_helpers import DEMO_EVENTS, DEMO_ID, demo_db, opened, replay_app, settled
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.cli import main
from tokenmaxx.tui.fleet_view import NoFleet
from tokenmaxx.tui.replay_fleet import REPLAY_OFF, ReplayFleet
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.screens.fleet import FleetScreen
from tokenmaxx.tui.screens.help import HelpScreen
from tokenmaxx.tui.screens.replay import ReplayScreen
from tokenmaxx.tui.screens.replay_agent import ReplayAgentScreen
from tokenmaxx.tui.screens.replay_pipeline import ReplayPipelineScreen
from tokenmaxx.tui.screens.sessions import SessionsScreen
from tokenmaxx.tui.widgets.agent_pane import AgentPane
from tokenmaxx.tui.widgets.flag_banner import NOT_LIVE
from tokenmaxx.tui.widgets.pipeline import PipelineView
from tokenmaxx.tui.widgets.timeline import Timeline
from tokenmaxx.tui.widgets.transcript import Transcript

LAST = len(DEMO_EVENTS)
HOURS_LATER = DEMO_EVENTS[-1].ts + 5 * 3600
"""A wall clock five hours after the recording: any time painted with it instead of the session's reads hours."""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return demo_db(tmp_path)


@pytest.fixture
async def fleet(db: Path) -> AsyncIterator[ReplayFleet]:
    replay = await ReplayFleet.open(db, DEMO_ID[:4], at=LAST)
    yield replay
    await replay.close()


def assert_shows_the_reducer_state(app: TokenmaxxApp, seq: int) -> None:
    screen = app.screen
    assert isinstance(screen, ReplayScreen) and isinstance(app.fleet, ReplayFleet)
    assert app.fleet.cursor.seq == seq
    assert screen.state == reduce_all(DEMO_EVENTS[:seq])


async def test_each_key_moves_the_cursor_and_the_screen_shows_the_live_reducers_state(tmp_path: Path, db: Path, fleet: ReplayFleet) -> None:
    app = replay_app(tmp_path, db, fleet)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert_shows_the_reducer_state(app, LAST)  # opened at its end, paused
        steps = [
            ("g", 0), ("right", 1), ("right", 2), ("left", 1), ("shift+right", 19), ("shift+right", 37),
            ("n", 45), ("n", 47), ("N", 45), ("shift+left", 27), ("G", LAST), ("left", LAST - 1), ("n", LAST - 1),
        ]
        for key, seq in steps:
            await pilot.press(key)
            await settled(pilot)
            assert_shows_the_reducer_state(app, seq)


async def test_space_plays_and_pauses_and_the_brackets_change_speed(tmp_path: Path, db: Path, fleet: ReplayFleet) -> None:
    app = replay_app(tmp_path, db, fleet)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await settled(pilot)
        assert fleet.cursor.playing and fleet.cursor.seq == 1  # at the end, play starts over; the fixed clock stands still
        await pilot.press("right_square_bracket", "right_square_bracket")
        await settled(pilot)
        assert fleet.cursor.speed == 5
        assert shown(app.screen.query_one(Timeline)).startswith("▶ 5x")
        await pilot.press("left_square_bracket", "space")
        await settled(pilot)
        assert not fleet.cursor.playing and fleet.cursor.speed == 2
        assert shown(app.screen.query_one(Timeline)).startswith("❚❚ 2x")


async def test_playing_follows_the_wall_clock_at_the_cursor_speed(tmp_path: Path, db: Path, fleet: ReplayFleet) -> None:
    wall = [1000.0]
    app = replay_app(tmp_path, db, fleet, now=lambda: wall[0])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", *["right_square_bracket"] * 9, "space")
        await settled(pilot)
        assert fleet.cursor.speed == 1000 and fleet.cursor.playing
        for _ in range(3):
            wall[0] += 0.3  # at 1000x, 300 s of session a tick: more than the whole 7.6 s recording
            await pilot.pause(0.1)
            await settled(pilot)
        assert_shows_the_reducer_state(app, LAST)
        assert not fleet.cursor.playing  # a finished session stops at its end


async def test_a_finished_session_opens_at_its_start_playing_and_at_an_event_paused(db: Path) -> None:
    for at, seq, playing in ((None, 0, True), (47, 47, False), (LAST, LAST, False)):
        replay = await ReplayFleet.open(db, DEMO_ID, speed=20, at=at)
        await replay.close()
        assert (replay.cursor.seq, replay.cursor.playing, replay.cursor.speed) == (seq, playing, 20)


def test_the_timeline_says_following_only_while_it_plays_at_the_end_of_a_live_session() -> None:
    timeline = Timeline()
    live = Cursor(last_seq=10, seq=10, live=True)
    for cursor, says in ((replace(live, playing=True), "live: following"), (live, "live"), (live.seek(4).play(), "live")):
        timeline.cursor = cursor
        assert f"· {says} ·" in f"{timeline.rows()[1].plain} ·", cursor


@pytest.mark.parametrize("key", ["k", "ctrl+k", "r", "p", "R", "a", "x", "A", "S"])
async def test_supervision_keys_are_off_and_say_why(tmp_path: Path, db: Path, fleet: ReplayFleet, key: str) -> None:
    app = replay_app(tmp_path, db, fleet)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        await settled(pilot)
        assert isinstance(app.screen, ReplayScreen)  # no modal, no prompt
        assert any(NOT_LIVE in str(n.message) for n in app._notifications)
        assert fleet.version == 0
    with pytest.raises(CommandError, match="supervision is off"):
        fleet.handle(cmd.Kill(agent="charts"))


async def test_help_lists_the_replay_keys_and_says_supervision_is_off(tmp_path: Path, db: Path, fleet: ReplayFleet) -> None:
    app = replay_app(tmp_path, db, fleet)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await settled(pilot)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen) and "Supervision keys are off" in help_screen.intro
        described = {item.description for item in help_screen.keys}
        assert {"Play/pause", "Slower", "Faster", "Step back", "Step", "Back 10%", "Ahead 10%", "Start", "End", "Next marker"} <= described
        assert "Kill" not in described and "Tag" not in described


async def test_the_agent_screen_never_shows_events_after_the_cursor(tmp_path: Path, db: Path, fleet: ReplayFleet) -> None:
    app = replay_app(tmp_path, db, fleet)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("enter")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ReplayAgentScreen) and screen.agent == "charts"
        charts = [e.seq for e in DEMO_EVENTS if getattr(e, "agent", None) == "charts"]
        assert [e.seq for e in screen.query_one(Transcript).events] == charts
        await pilot.press("g", *["shift+right"] * 3, "right")  # 55: charts has restarted once
        await settled(pilot)
        assert [e.seq for e in screen.query_one(Transcript).events] == [s for s in charts if s <= 55]
        await pilot.press(*["right"] * 10)  # told one event at a time, as live
        await settled(pilot)
        assert [e.seq for e in screen.query_one(Transcript).events] == [s for s in charts if s <= 65]
        assert screen.query_one(Timeline).cursor.seq == 65
        await pilot.press("g")  # before charts was queued: a blank agent
        await settled(pilot)
        assert app.screen is screen and screen.query_one(Transcript).events == [] and fleet.cursor.seq == 0
        assert screen.state.agents["charts"].turn == 0


async def test_the_pipeline_in_a_replay_runs_on_the_sessions_clock_with_the_timeline_and_the_replay_keys(
    tmp_path: Path, db: Path, fleet: ReplayFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    painted_at: list[float] = []
    show = PipelineView.show
    monkeypatch.setattr(PipelineView, "show", lambda view, state, now, selected: painted_at.append(now) or show(view, state, now, selected))
    app = replay_app(tmp_path, db, fleet, now=lambda: HOURS_LATER)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", *["right"] * 60, "P")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ReplayPipelineScreen) and screen.selected == "charts"
        assert painted_at[-1] == fleet.state.last_ts + fleet.cursor.lag < HOURS_LATER - 3600
        assert screen.query_one(Timeline).cursor.seq == 60
        await pilot.press("right", "n")  # left/right step, h/l move between layers
        await settled(pilot)
        assert screen.query_one(Timeline).cursor.seq == fleet.cursor.seq > 61 and screen.state == reduce_all(DEMO_EVENTS[: fleet.cursor.seq])
        assert screen.check_action("kill", ()) is False  # no supervision keys in the footer
        await pilot.press("P")
        await settled(pilot)
        assert isinstance(app.screen, ReplayScreen)


async def test_enter_in_the_replays_pipeline_zooms_into_the_agent_at_the_cursor_and_a_rewind_reloads_it(
    tmp_path: Path, db: Path, fleet: ReplayFleet
) -> None:
    app = replay_app(tmp_path, db, fleet, now=lambda: HOURS_LATER)
    charts = [e.seq for e in DEMO_EVENTS if getattr(e, "agent", None) == "charts"]
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("P", "enter")
        await settled(pilot)
        screen = app.screen
        assert isinstance(screen, ReplayAgentScreen) and screen.agent == "charts"
        assert screen.query_one(AgentPane).now == screen.session_now() == fleet.state.last_ts
        assert [e.seq for e in screen.query_one(Transcript).events] == charts
        await pilot.press("g", *["shift+right"] * 3, "right")  # back to 55
        await settled(pilot)
        assert [e.seq for e in screen.query_one(Transcript).events] == [s for s in charts if s <= 55]
        assert screen.query_one(Timeline).cursor.seq == 55


async def test_playing_waits_under_a_screen_that_is_not_the_replays_and_goes_on_under_its_own(tmp_path: Path, db: Path, fleet: ReplayFleet) -> None:
    wall = [1000.0]
    app = replay_app(tmp_path, db, fleet, now=lambda: wall[0])

    async def played_for(seconds: float) -> int:
        before = fleet.cursor.seq
        wall[0] += seconds
        await pilot.pause(0.1)
        await settled(pilot)
        return fleet.cursor.seq - before

    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("shift+left", "space", "s")
        await settled(pilot)
        assert isinstance(app.screen, SessionsScreen) and fleet.cursor.playing
        assert await played_for(0.3) == 0
        await pilot.press("escape", "P", "enter")
        await settled(pilot)
        assert isinstance(app.screen, ReplayAgentScreen)
        assert await played_for(0.3) > 0


async def test_a_replay_opened_from_the_browser_goes_back_to_it_with_q(tmp_path: Path, db: Path) -> None:
    app = replay_app(tmp_path, db)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert isinstance(app.screen, SessionsScreen) and isinstance(app.fleet, NoFleet)
        replay = await opened(pilot, DEMO_ID[:5])
        assert isinstance(app.screen, ReplayScreen) and replay.cursor.playing and replay.cursor.seq == 1  # from the start; the fixed clock stands still
        await pilot.press("enter", "q")  # from the agent screen too: the whole replay closes
        await settled(pilot)
        assert isinstance(app.screen, SessionsScreen) and isinstance(app.fleet, NoFleet)
        assert replay.store._closed  # noqa: SLF001 - the replay's own connection is gone
        await opened(pilot)
        await pilot.press("escape")
        await settled(pilot)
        assert isinstance(app.screen, SessionsScreen)
        await pilot.press("q")
        await settled(pilot)
    assert app.return_code == 0


async def test_a_replay_over_a_live_fleet_leaves_it_running_and_quitting_still_asks(tmp_path: Path, db: Path) -> None:
    app = make_app(tmp_path)
    app.store_path = db
    live = app.fleet
    async with app.run_test(size=SIZE) as pilot:
        replay = await opened(pilot)
        assert app.fleet is replay and isinstance(app.screen, ReplayScreen)
        await pilot.press("ctrl+q")
        await settled(pilot)
        assert isinstance(app.screen, ConfirmModal) and "still running" in app.screen.question
        await pilot.press("escape", "q")
        await settled(pilot)
        assert isinstance(app.screen, FleetScreen) and not isinstance(app.screen, ReplayScreen) and app.fleet is live


async def test_opening_an_unknown_session_says_so_and_stays(tmp_path: Path, db: Path) -> None:
    app = replay_app(tmp_path, db)
    async with app.run_test(size=SIZE) as pilot:
        app.open_replay("fff")
        await settled(pilot)
        assert isinstance(app.screen, SessionsScreen)
        assert any("no session 'fff'" in str(n.message) for n in app._notifications)


def tokenmaxx(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)
    return result.exit_code, result.stderr


def test_replay_errors_are_one_line_and_exit_2(tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tokenmaxx.tui.cli.has_terminal", lambda: True)
    async def two_alike() -> None:
        async with await Store.open(db) as store:
            for event in DEMO_EVENTS[:2]:
                store.append(DEMO_ID[:3] + "0" * 9, event)

    import asyncio

    asyncio.run(two_alike())
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"not a database at all" * 100)
    cases = {
        ("nope",): "no session 'nope'",
        (DEMO_ID[:3],): "matches several sessions",
        (DEMO_ID, "--db", tmp_path / "missing.db"): "no database at",
        (DEMO_ID, "--db", corrupt): "is not a tokenmaxx session database",
        (DEMO_ID, "--speed", "0"): "--speed",
        (DEMO_ID, "--speed", "1001"): "--speed",
    }
    for args, message in cases.items():
        db_args = () if "--db" in args else ("--db", db)
        code, stderr = tokenmaxx("replay", *args, *db_args)
        assert code == 2 and message in stderr, (args, stderr)
        if "--speed" not in args:
            assert stderr.count("\n") == 1, stderr
    assert not (tmp_path / "missing.db").exists()


def test_replay_headless_prints_the_fleet_at_the_cursor(db: Path) -> None:
    result = CliRunner().invoke(main, ["replay", DEMO_ID[:6], "--headless", "--at", "47", "--db", str(db)])
    assert result.exit_code == 0
    assert "at event 47 of 176" in result.stdout and "watchdog restart charts" in result.stdout


async def test_a_replay_finds_the_output_folder_its_session_recorded(tmp_path: Path) -> None:
    """Not the plan's `out` as the file reads now: the run may have had --out, or the plan may have changed."""
    elsewhere = tmp_path / "given-with-out" / "feedfeedfeed"
    elsewhere.mkdir(parents=True)
    db = tmp_path / "out.db"
    async with await Store.open(db) as store:
        started = ev.SessionStarted(name="n", plan=str(tmp_path / "gone.toml"), cwd=str(tmp_path), version="1", out=str(elsewhere))
        store.append("feedfeedfeed", started)
        store.append("feedfeedfeed", ev.SessionEnded(status="done"))
    fleet = await ReplayFleet.open(db, "feed")
    try:
        assert fleet.out_root == elsewhere
    finally:
        await fleet.close()
