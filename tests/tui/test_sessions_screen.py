"""The sessions screen: what it lists, filter and sort, enter to replay, a missing or broken database."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tokenmaxx.agents.wire import socket_path
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.store import Store
from tests.tui.helpers import SIZE
from tokenmaxx.themes import BUILTIN_THEMES, DEFAULT_THEME, THEME_VARIABLES
from tokenmaxx.tui.screens.sessions import SessionsScreen
from tokenmaxx.tui.session_filter import SessionQuery

DAY = 1_795_000_000.0  # 2026-11-18, long before "today", so rows show dates
DEAD_PID = 4_194_303  # above Linux's pid_max default: no process has it


async def _record(store: Store, sid: str, name: str, start: float, minutes: float, status: str | None, spend: float, reviews: tuple[int, int]) -> None:
    def add(event: ev.Event, at: float) -> None:
        store.append(sid, event.model_copy(update={"ts": start + at}))

    add(ev.SessionStarted(name=name, plan=f"{name}.toml", cwd="/work/project", version="0.1.0"), 0)
    add(ev.AgentQueued(agent="charts", role="chart-builder", provider="claude", model="claude-sonnet-4-6", after=[]), 1)
    add(ev.AgentQueued(agent="deck", role="deck-builder", provider="claude", model="claude-sonnet-4-6", after=["charts"]), 1)
    add(
        ev.UsageReported(
            agent="charts", provider="claude", model="claude-sonnet-4-6",
            input_tokens=int(spend * 100_000), output_tokens=int(spend * 20_000), cost_usd=spend,
        ),
        30,
    )
    accepted, rejected = reviews
    for n, verdict in enumerate(["accepted"] * accepted + ["rejected"] * rejected):
        add(ev.ArtifactReview(agent="charts", path=f"charts/chart{n}.svg", verdict=verdict, note=""), 40 + n)  # type: ignore[arg-type]
    if status is not None:
        add(ev.SessionEnded(status=status), minutes * 60)  # type: ignore[arg-type]


async def _build(db: Path) -> None:
    async with await Store.open(db) as store:
        await _record(store, "a1b2c3d4e5f6", "talk-deck", DAY, 12.5, "done", 1.25, (2, 1))
        await _record(store, "b2c3d4e5f6a1", "nightly-logs", DAY + 3600, 3, "failed", 0.40, (0, 0))
        await _record(store, "c3d4e5f6a1b2", "refactor", DAY + 7200, 45, "stopped", 3.10, (1, 0))
        await _record(store, "d4e5f6a1b2c3", "big-run", DAY + 86_400, 0, None, 7.75, (0, 2))
    with sqlite3.connect(db) as raw:  # the big run's process died: it reads as interrupted
        raw.execute("UPDATE sessions SET pid = ? WHERE id = ?", (DEAD_PID, "d4e5f6a1b2c3"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    asyncio.run(_build(path))
    return path


class Browser(App[None]):
    """The screen alone, in the app's themes, remembering what enter asked to replay."""

    def __init__(self, store_path: Path, *, closable: bool = False) -> None:
        super().__init__()
        self.store_path, self.closable = store_path, closable
        self.replays: list[str] = []
        for theme in BUILTIN_THEMES:
            self.register_theme(theme)
        self.theme = DEFAULT_THEME

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(THEME_VARIABLES)

    def on_mount(self) -> None:
        self.push_screen(SessionsScreen(self.store_path, closable=self.closable))

    def open_replay(self, session_id: str) -> None:
        self.replays.append(session_id)


async def loaded(pilot: Pilot[None]) -> SessionsScreen:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SessionsScreen)
    return screen


def names(screen: SessionsScreen) -> list[str]:
    return [s.name for s in screen.shown]


def text_of(screen: SessionsScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_lists_every_session_newest_first_with_its_status(db: Path) -> None:
    async with Browser(db).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert names(screen) == ["big-run", "refactor", "nightly-logs", "talk-deck"]
        assert [s.status for s in screen.shown] == ["interrupted", "stopped", "failed", "done"]
        table = screen.query_one(DataTable)
        assert table.row_count == 4
        row = [str(cell) for cell in table.get_row("a1b2c3d4e5f6")]
        assert row[:2] == ["a1b2c3d4", "talk-deck"] and row[3] == "12m30s" and row[4] == "done"
        assert row[6:] == ["150,000", "$1.25", "2/1"]
        assert "4 of 4 sessions" in text_of(screen, "#sessions-bar")


async def test_enter_replays_the_session_under_the_cursor(db: Path) -> None:
    async with Browser(db).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("down", "down", "enter")
        assert pilot.app.replays == ["b2c3d4e5f6a1"]  # type: ignore[attr-defined]  # nightly-logs


async def test_filter_status_and_sort_keep_the_cursor_on_its_session(db: Path) -> None:
    async with Browser(db).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        await pilot.press("down")  # refactor
        await pilot.press("3")  # costliest first
        assert names(screen) == ["big-run", "refactor", "talk-deck", "nightly-logs"]
        assert screen.selected is not None and screen.selected.name == "refactor"
        await pilot.press("3")  # again: cheapest first
        assert names(screen)[0] == "nightly-logs"
        await pilot.press("slash", *"deck|logs", "enter")
        assert sorted(names(screen)) == ["nightly-logs", "talk-deck"]
        await pilot.press("escape")
        assert len(screen.shown) == 4
        await pilot.press("slash", *"!run", "enter")
        assert "big-run" not in names(screen) and len(screen.shown) == 3
        await pilot.press("escape", "f", "f")  # all -> running -> interrupted
        assert names(screen) == ["big-run"] and "status: interrupted" in text_of(screen, "#sessions-bar")
        await pilot.press("f")
        assert names(screen) == ["talk-deck"]


async def test_no_match_and_no_database_say_what_to_do(db: Path, tmp_path: Path) -> None:
    async with Browser(db).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        await pilot.press("slash", *"zzz", "enter")
        assert screen.shown == [] and "No session matches" in text_of(screen, "#sessions-empty")
        await pilot.press("enter")
        assert pilot.app.replays == []  # type: ignore[attr-defined]
    missing = tmp_path / "nowhere" / "none.db"
    async with Browser(missing).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert "No sessions yet" in text_of(screen, "#sessions-empty") and "tokenmaxx demo" in text_of(screen, "#sessions-empty")
    assert not missing.exists(), "looking must not create a database"


async def test_a_broken_database_is_a_message_not_a_crash(tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not sqlite at all" * 100)
    async with Browser(broken).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        message = text_of(screen, "#sessions-empty")
        assert str(broken) in message
    assert broken.read_bytes() == b"this is not sqlite at all" * 100


async def test_a_new_session_appears_on_the_next_refresh(db: Path) -> None:
    async with Browser(db).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        async with await Store.open(db) as store:
            await _record(store, "e5f6a1b2c3d4", "evening", DAY + 2 * 86_400, 1, "done", 0.01, (0, 0))
        screen.reload()
        await loaded(pilot)
        assert names(screen)[0] == "evening" and len(screen.shown) == 5


async def test_escape_closes_only_a_closable_screen(db: Path) -> None:
    async with Browser(db, closable=True).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, SessionsScreen)
    async with Browser(db).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, SessionsScreen)


def test_query_sorts_names_a_to_z_and_reverses_on_the_same_key() -> None:
    query = SessionQuery().sorted_by("name")
    assert query.sort == "name" and not query.reverse
    assert query.sorted_by("name").reverse and not query.sorted_by("name").sorted_by("cost").reverse
    assert "sorted by name" in query.describe()


def test_sessions_screen(snap_compare, db: Path) -> None:  # type: ignore[no-untyped-def]
    """Four sessions newest first: big-run 'interrupted · tokenmaxx resume d4e5f6a1' (amber) $7.75 0/2, refactor stopped,
    nightly-logs failed (red), talk-deck done (green) $1.25 2/1; the bar says '4 of 4 sessions · sorted by started · enter
    replays, or attaches to a running fleet'."""

    async def ready(pilot: Pilot[None]) -> None:
        await loaded(pilot)

    assert snap_compare(Browser(db), terminal_size=SIZE, run_before=ready)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    from tests.tui.replay_helpers import demo_db

    return demo_db(tmp_path)


async def test_s_on_a_live_fleet_lists_the_sessions_and_enter_replays_over_it(tmp_path: Path, demo: Path) -> None:
    from tests.tui.replay_helpers import DEMO_ID, replay_app, settled
    from tests.tui.sample_fleet import sample_fleet
    from tokenmaxx.tui.replay_fleet import ReplayFleet
    from tokenmaxx.tui.screens.fleet import FleetScreen
    from tokenmaxx.tui.screens.replay import ReplayScreen

    live = sample_fleet(tmp_path / "out", live=True)
    async with replay_app(tmp_path, demo, live).run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("s")
        screen = await loaded(pilot)
        assert [s.id for s in screen.shown] == [DEMO_ID]
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(pilot.app.screen, ReplayScreen) and isinstance(pilot.app.fleet, ReplayFleet)  # type: ignore[attr-defined]
        await pilot.press("escape")
        await settled(pilot)
        assert isinstance(pilot.app.screen, SessionsScreen)
        await pilot.press("escape")
        await settled(pilot)
        assert isinstance(pilot.app.screen, FleetScreen) and pilot.app.fleet is live  # type: ignore[attr-defined]


def test_tokenmaxx_with_no_command_opens_the_browser(monkeypatch: pytest.MonkeyPatch, db: Path) -> None:
    from click.testing import CliRunner

    from tokenmaxx.tui import runner
    from tokenmaxx.tui.cli import main

    opened: list[Path] = []

    async def browse(path: Path) -> int:
        opened.append(path)
        return 0

    monkeypatch.setattr(runner, "browse_tui", browse)
    monkeypatch.setattr("tokenmaxx.tui.cli.has_terminal", lambda: True)
    monkeypatch.setenv("TOKENMAXX_DB", str(db))
    result = CliRunner().invoke(main, [])
    assert result.exit_code == 0 and opened == [db.resolve()]
    assert "sessions browser" in CliRunner().invoke(main, ["--help"]).output


async def test_question_mark_explains_the_sessions_screen(db: Path, tmp_path: Path) -> None:
    from tests.tui.replay_helpers import replay_app
    from tokenmaxx.tui.screens.help import HelpScreen

    async with replay_app(tmp_path, db).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen) and help_screen.title_text == "sessions"
        assert "interrupted" in help_screen.intro and any(k.description == "Replay" for k in help_screen.keys)


async def test_enter_twice_opens_one_replay(tmp_path: Path, demo: Path) -> None:
    from tests.tui.replay_helpers import replay_app, settled
    from tokenmaxx.tui.screens.replay import ReplayScreen

    async with replay_app(tmp_path, demo).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        pilot.app.open_replay(screen.shown[0].id)  # type: ignore[attr-defined]
        pilot.app.open_replay(screen.shown[0].id)  # type: ignore[attr-defined]  # enter again before the first opened
        await settled(pilot)
        assert sum(isinstance(s, ReplayScreen) for s in pilot.app.screen_stack) == 1


class AttachingBrowser(Browser):
    """The browser the app starts on, remembering what enter asked to attach to."""

    def __init__(self, store_path: Path) -> None:
        super().__init__(store_path)
        self.attached: list[str] = []

    def attach_on_exit(self, session_id: str) -> None:
        self.attached.append(session_id)


async def test_a_running_fleet_is_marked_and_enter_attaches_while_a_dead_one_offers_resume(db: Path, fleet_runtime_dir: Path) -> None:
    async with await Store.open(db) as store:  # this process holds the running session's lock, as its fleet process would
        await _record(store, "e5f6a1b2c3d4", "overnight", DAY + 90_000, 0, None, 0.5, (0, 0))
        await store.flush()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listening:
            listening.bind(str(socket_path("e5f6a1b2c3d4")))
            listening.listen()
            async with AttachingBrowser(db).run_test(size=SIZE) as pilot:
                screen = await loaded(pilot)
                table = screen.query_one(DataTable)
                assert str(table.get_row("e5f6a1b2c3d4")[4]) == "running · attach"
                assert str(table.get_row("d4e5f6a1b2c3")[4]) == "interrupted · tokenmaxx resume d4e5f6a1"
                await pilot.press("enter")  # the newest: the running fleet
                assert pilot.app.attached == ["e5f6a1b2c3d4"] and pilot.app.replays == []  # type: ignore[attr-defined]
                await pilot.press("down", "enter")
                assert pilot.app.replays == ["d4e5f6a1b2c3"]  # type: ignore[attr-defined]
