"""`o` opens an artifact: text inside the TUI, other files with the system opener (never a real one here), clear notices otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Markdown

from tokenmaxx.sessions import events as ev
from tests.tui.fake_fleet import T0
from tests.tui.helpers import SIZE, fleet_of, make_app, select, settle
from tokenmaxx.tui import opener
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.screens.artifact import ArtifactScreen, download_name
from tokenmaxx.tui.screens.fleet import FleetScreen

PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"


def notices(app: TokenmaxxApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def add_png(app: TokenmaxxApp, out: Path) -> Path:
    (out / "charts" / "loc.png").write_bytes(PNG)
    fleet_of(app).feed(ev.Artifact(agent="charts", path="charts/loc.png", bytes=len(PNG), sha256="p", ts=T0 + 122))
    return out / "charts" / "loc.png"


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    monkeypatch.setattr(opener, "open_with_system", lambda path: calls.append(path))
    return calls


@pytest.mark.parametrize("live", [True, False])
async def test_o_shows_a_markdown_artifact_full_screen_and_escape_goes_back(tmp_path: Path, opened: list[Path], live: bool) -> None:
    app = make_app(tmp_path, live=live)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "local")
        await pilot.press("o")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ArtifactScreen) and screen.name_shown == "local/summary.md"
        assert "Error summary" in screen.query_one(Markdown).source and not opened
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_o_in_the_agent_screen_hands_a_binary_file_to_the_system_opener(tmp_path: Path, opened: list[Path]) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        png = add_png(app, tmp_path / "out")
        await select(pilot, "charts")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await settle(pilot)
        await pilot.press("o")
        assert opened == [png] and "opening charts/loc.png" in notices(app)


async def test_a_deleted_artifact_says_it_is_gone(tmp_path: Path, opened: list[Path]) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        (tmp_path / "out" / "local" / "summary.md").unlink()
        await select(pilot, "local")
        await pilot.press("o")
        assert isinstance(app.screen, FleetScreen) and not opened
        assert f"{tmp_path / 'out' / 'local' / 'summary.md'} no longer exists" in notices(app)


async def test_without_a_system_opener_the_notice_gives_the_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opener, "opener_command", lambda platform="linux": None)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        png = add_png(app, tmp_path / "out")
        await select(pilot, "charts")
        await pilot.press("o")
        assert isinstance(app.screen, FleetScreen)
        assert f"no system opener: xdg-open is not installed: open {png} yourself" in notices(app)


async def test_without_a_system_opener_a_text_file_is_shown_inside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opener, "opener_command", lambda platform="linux": None)
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "charts")
        await pilot.press("o")
        assert isinstance(app.screen, ArtifactScreen) and "shown as text" in app.screen.notice


def test_text_shows_inside_and_pages_pictures_and_documents_go_outside(tmp_path: Path) -> None:
    (tmp_path / "NOTES").write_text("plain words")
    assert opener.shows_inside(tmp_path / "a.md") and opener.shows_inside(tmp_path / "NOTES")
    assert not any(opener.shows_inside(tmp_path / name) for name in ("deck.html", "loc.svg", "a.png", "b.pdf", "c.pptx"))


def test_a_file_that_cannot_be_read_is_not_text(tmp_path: Path) -> None:
    folder = tmp_path / "README"
    folder.mkdir()  # opening it for reading fails (IsADirectoryError), as an unreadable file would
    assert not opener.is_text(folder) and not opener.shows_inside(folder)


@pytest.mark.parametrize(("name", "sent"), [("loc.svg", "loc.svg"), ("a b;c\r\nd.html", "a_b_c__d.html"), ("..svg", "svg"), ("\u00e9", "_")])
def test_a_file_sent_to_a_browser_keeps_a_name_that_is_safe_in_a_header(tmp_path: Path, name: str, sent: str) -> None:
    assert download_name(tmp_path / name) == sent
