"""The TUI shows escape sequences from model text, tool output, artifact names and files, and imported sessions as placeholders, live and in replay."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.pilot import Pilot

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.export import write_jsonl
from tests.hostile_text import BIDI, C1_CSI, C1_OSC, CSI_CLEAR, CSI_MOVE, HOSTILE, OSC0_TITLE, OSC8_LINK, OSC52_ST, assert_shown_safely, hostile_session
from tests.tui.fake_fleet import T0, FakeFleet
from tests.tui.helpers import SIZE, make_app, select
from tests.tui.replay_helpers import replay_app, settled
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.screens.replay import ReplayScreen
from tokenmaxx.tui.screens.replay_agent import ReplayAgentScreen
from tokenmaxx.tui.cli import main

ARTIFACT = f"evil/notes{OSC0_TITLE}.md"
SEEN = ("␛]52;c;aGVsbG8=", "␛[10;10H", "␛[2J", "␛]0;pwned", "␛]8;;https://evil.example/", "␛[31m", "⟨RLO⟩")
"""Placeholders short enough to show whole on the agent screen."""


def hostile_fleet(out_root: Path) -> FakeFleet:
    """One live agent whose model text, tool call, tool output and artifact (name and content) carry escape sequences."""
    (out_root / "evil").mkdir(parents=True)
    (out_root / ARTIFACT).write_text(f"# Notes\n\nthe file says {OSC52_ST} and {CSI_CLEAR}\n", encoding="utf-8")
    fleet = FakeFleet(live=True, out_root=out_root)
    fleet.feed(
        ev.AgentQueued(agent="evil", role="critic", provider="sim", model=f"m{CSI_CLEAR}", task=f"task {OSC0_TITLE}", ts=T0),
        ev.AgentStatusChanged(agent="evil", status="starting", iteration=1, ts=T0),
        ev.TurnStarted(agent="evil", turn=1, ts=T0),
        ev.AgentStatusChanged(agent="evil", status="streaming", ts=T0 + 1),
        ev.Text(agent="evil", text=f"model says {OSC52_ST} then {CSI_MOVE}\n", ts=T0 + 2),
        ev.ToolCall(agent="evil", call_id="c1", tool="run_command", args={"cmd": f"echo {C1_CSI}"}, ts=T0 + 3),
        ev.ToolResult(agent="evil", call_id="c1", ok=True, output=f"tool prints {OSC8_LINK}\n{C1_OSC} {BIDI}", duration_s=0.5, ts=T0 + 4),
        ev.Artifact(agent="evil", path=ARTIFACT, bytes=64, sha256="ab" * 32, ts=T0 + 5),
        ev.Text(agent="evil", text=f"last words {OSC0_TITLE}\n", ts=T0 + 6),
    )
    return fleet


def screen_text(app: TokenmaxxApp) -> str:
    """What the terminal shows now, as plain text (the screenshot's tags dropped, its entities read)."""
    return html.unescape(re.sub(r"<[^>]*>", "", app.export_screenshot())).replace("\xa0", " ")


async def on_agent_screen(pilot: Pilot[None]) -> None:
    await select(pilot, "evil")
    await pilot.press("enter")
    await settled(pilot)


async def test_the_fleet_and_agent_screens_show_hostile_text_as_placeholders(tmp_path: Path) -> None:
    app = make_app(tmp_path, fleet=hostile_fleet(tmp_path / "out"))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert_shown_safely(screen_text(app), ("␛[2J", "␛]0;pwned"))
        await on_agent_screen(pilot)
        assert_shown_safely(screen_text(app), SEEN)


async def test_approvals_pipeline_and_notices_show_hostile_text_as_placeholders(tmp_path: Path) -> None:
    fleet = hostile_fleet(tmp_path / "out")
    fleet.feed(
        ev.ApprovalRequested(agent="evil", call_id="c2", tool=f"run{CSI_CLEAR}", args={"cmd": f"rm {C1_CSI}{BIDI}"}, ts=T0 + 7),
        ev.AgentStatusChanged(agent="evil", status="awaiting_approval", ts=T0 + 7),
    )
    app = make_app(tmp_path, fleet=fleet)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        await pilot.press("A")
        await settled(pilot)
        assert_shown_safely(screen_text(app), ("run␛[2J", "rm ␛[31m⟨RLO⟩evil⟨PDF⟩"))
        await pilot.press("escape", "P")
        await settled(pilot)
        assert_shown_safely(screen_text(app), ("notes␛]0;",))
        app.notify(f"cannot open {ARTIFACT}", title=OSC52_ST)
        await pilot.pause()
        notice = next(iter(app._notifications))
        assert_shown_safely(f"{notice.title} {notice.message}", ("␛]0;pwned", "␛]52;c;aGVsbG8="))


def test_agent_screen_snapshot(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The agent screen of `evil`: the pane's model line reads m␛[2J and its last line 'last words ␛]0;pwned title␇'; the
    transcript shows 'model says ␛]52;c;aGVsbG8=␛\\ then ␛[10;10H', the tool call 'echo ␛[31m', its output '␛]8;;…' with
    the next line '␛]0;x␇ ⟨RLO⟩evil⟨PDF⟩'; the artifact list and the preview title name 'evil/notes␛]0;pwned title␇.md',
    the preview says 'the file says ␛]52;…'. Nothing clears or moves the screen."""
    assert snap_compare(make_app(tmp_path, fleet=hostile_fleet(tmp_path / "out")), terminal_size=SIZE, run_before=on_agent_screen)


def imported_db(folder: Path) -> Path:
    """A database into which `tokenmaxx import` read a shared session carrying escape sequences everywhere."""
    shared, db = folder / "hostile.jsonl", folder / "sessions.db"
    with shared.open("w", encoding="utf-8") as file:
        write_jsonl(hostile_session(), file)
    assert CliRunner().invoke(main, ["import", str(shared), "--db", str(db)]).exit_code == 0
    return db


async def _until(pilot: Pilot[None], done: Callable[[], bool], timeout_s: float = 20) -> None:
    """Settle until `done` holds, however loaded the machine: a replay opens in a worker."""
    for _ in range(int(timeout_s / 0.05)):
        await settled(pilot)
        if done():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"the replay never reached the screen the snapshot shows: {pilot.app.screen_stack}")


def replayed_then(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Open the imported session from the browser, pause it at its end, then press `keys`."""

    async def run_before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        pilot.app.open_replay("badc0ffee001")  # type: ignore[attr-defined]
        await _until(pilot, lambda: isinstance(pilot.app.screen, ReplayScreen))
        await pilot.press("space", "G")
        await _until(pilot, lambda: bool(pilot.app.screen.query("AgentPane")))
        await pilot.press(*keys)
        if "enter" in keys:
            await _until(pilot, lambda: isinstance(pilot.app.screen, ReplayAgentScreen))
        await settled(pilot)

    return run_before


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    return imported_db(tmp_path)


async def test_an_imported_session_replays_with_placeholders(tmp_path: Path, hostile_db: Path) -> None:
    app = replay_app(tmp_path, hostile_db)
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot)
        assert_shown_safely(screen_text(app), ("␛]52;c;aGVsbG8=",))
        await replayed_then()(pilot)
        assert_shown_safely(screen_text(app), ("␛]52;c;aGVsbG8=",))
        await pilot.press("enter")
        await settled(pilot)
        assert_shown_safely(screen_text(app), SEEN)


def test_imported_session_replay_snapshot(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The imported session replayed to its end, on its agent's screen: the agent's name, role, model, task, text, tool
    call and output, error, flag, reprompt, artifact and summary each end in the same run of placeholders
    ('␛]52;c;aGVsbG8=␛\\␛]52;c;d29ybGQ=␇␛]0;pwned title␇…'), never in a cleared or moved screen."""
    assert snap_compare(replay_app(tmp_path, imported_db(tmp_path)), terminal_size=SIZE, run_before=replayed_then("enter"))
