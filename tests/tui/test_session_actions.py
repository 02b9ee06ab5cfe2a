"""The sessions browser resumes, exports and deletes (with a confirmation) the session under the cursor."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.session_lock import SessionLock, lock_path
from tokenmaxx.sessions.store import SessionNotFound, SessionRunning, Store
from tests.tui.helpers import SIZE
from tests.tui.test_sessions_screen import DAY, Browser, _build, _record, loaded, names
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.config import Config
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.screens.export_path import ExportPathModal

RUNNING_ID = "e5f6a1b2c3d4"


async def _build_with_a_running_one(db: Path) -> None:
    await _build(db)
    async with await Store.open(db) as store:
        await _record(store, RUNNING_ID, "live-one", DAY + 2 * 86_400, 0, None, 0.1, (0, 0))  # this process: running


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Path]:
    """The browser's sample history, with `live-one` running: its session lock is held as a fleet would hold it."""
    path = tmp_path / "history.db"
    asyncio.run(_build_with_a_running_one(path))
    running = SessionLock.acquire(lock_path(path, RUNNING_ID), RUNNING_ID)
    yield path
    running.close()


async def settled(pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_the_store_deletes_a_finished_session_whole_and_refuses_a_running_one(db: Path) -> None:
    async with await Store.open(db) as store:
        await store.delete_session("b2c3d4e5f6a1")
        with pytest.raises(SessionNotFound):
            await store.session("b2c3d4e5f6a1")
        for table in ("events", "snapshots", "agents", "reviews"):
            assert await store.fetch_rows(f"SELECT count(*) FROM {table} WHERE session_id = ?", ("b2c3d4e5f6a1",)) == [(0,)]
        with pytest.raises(SessionRunning, match="still running"):
            await store.delete_session(RUNNING_ID)
        assert (await store.session(RUNNING_ID)).status == "running"
        assert len(await store.sessions()) == 4


async def test_d_asks_then_deletes_the_session_under_the_cursor(db: Path) -> None:
    async with Browser(db).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        assert names(screen)[:2] == ["live-one", "big-run"]
        await pilot.press("down", "down", "d")  # refactor
        assert isinstance(pilot.app.screen, ConfirmModal) and "refactor" in pilot.app.screen.question
        await pilot.press("n")
        await settled(pilot)
        assert "refactor" in names(screen)
        await pilot.press("d", "y")
        await settled(pilot)
        await settled(pilot)
        assert "refactor" not in names(screen) and len(names(screen)) == 4
        assert any("deleted" in str(n.message) for n in pilot.app._notifications)


async def test_d_refuses_a_running_session_without_asking(db: Path) -> None:
    async with Browser(db).run_test(size=SIZE) as pilot:
        screen = await loaded(pilot)
        await pilot.press("d")
        await settled(pilot)
        assert pilot.app.screen is screen and "live-one" in names(screen)
        assert any("still running" in str(n.message) for n in pilot.app._notifications)


async def test_e_exports_markdown_and_jsonl_beside_the_chosen_path(db: Path, tmp_path: Path) -> None:
    async with Browser(db).run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("down", "down", "down", "down", "e")  # talk-deck
        assert isinstance(pilot.app.screen, ExportPathModal)
        pilot.app.screen.query_one(Input).value = str(tmp_path / "talk")
        await pilot.press("enter")
        await settled(pilot)
        assert (tmp_path / "talk.md").read_text().startswith("#") and "talk-deck" in (tmp_path / "talk.md").read_text()
        lines = (tmp_path / "talk.jsonl").read_text().splitlines()
        assert len(lines) > 3 and '"a1b2c3d4e5f6"' in lines[0]
        assert any(f"{tmp_path / 'talk.md'}" in str(n.message) for n in pilot.app._notifications)


async def test_r_resumes_an_interrupted_session_once_the_browser_closes(db: Path, tmp_path: Path) -> None:
    app = TokenmaxxApp(None, config=Config(directory=tmp_path / "config"), store_path=db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("down", "down", "r")  # refactor: stopped, not interrupted
        await pilot.pause()
        assert app.is_running and any("only an interrupted session" in str(n.message) for n in app._notifications)
        await pilot.press("up", "r")  # big-run: interrupted
        await pilot.pause()
    assert app.resume_after == "d4e5f6a1b2c3"
