"""Notices in the terminal (OSC 9, OSC 777, the bell) and a whole run telling the plan's hook."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tokenmaxx.agents.notify import Notice, Notifier, NotifySettings
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import initial_state
from tests.agents.scripted import make_plan
from tests.hostile_text import HOSTILE
from tests.tui.test_headless import FAST_SIM, NOTER
from tests.tui.fake_fleet import NOW, FakeFleet
from tests.tui.helpers import SIZE, make_app
from tokenmaxx.tui import runner
from tokenmaxx.tui.config import Config, Settings
from tokenmaxx.tui.terminal_notice import detect_style, notice_sequence

ITERM = {"TERM_PROGRAM": "iTerm.app", "TERM": "xterm-256color"}
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def a_notice(detail: str = "no event for 61s while streaming", agent: str = "charts") -> Notice:
    notice = Notifier().notice(ev.AgentFlagged(agent=agent, flag="stalled", detail=detail), initial_state())
    assert notice is not None
    return notice


@pytest.mark.parametrize(
    ("env", "style"),
    [
        (ITERM, "osc9"),
        ({"TERM_PROGRAM": "WezTerm"}, "osc9"),
        ({"TERM": "xterm-kitty"}, "osc9"),
        ({"TERM": "xterm-256color", "VTE_VERSION": "7600"}, "osc777"),
        ({"TERM": "foot"}, "osc777"),
        ({"TERM": "rxvt-unicode-256color"}, "osc777"),
        ({"TERM": "xterm-256color"}, "bell"),
        ({}, "bell"),
    ],
)
def test_the_terminal_decides_the_sequence(env: dict[str, str], style: str) -> None:
    assert detect_style(env) == style


def test_each_style_writes_its_sequence() -> None:
    notice = a_notice()
    assert notice_sequence(notice, "osc9") == "\x1b]9;tokenmaxx: charts is stalled: no event for 61s while streaming\x07"
    assert notice_sequence(notice, "osc777") == "\x1b]777;notify;tokenmaxx: charts is stalled;no event for 61s while streaming\x07"
    assert notice_sequence(notice, "bell") == "\x07"


def test_inside_tmux_the_sequence_is_wrapped_for_passthrough() -> None:
    wrapped = notice_sequence(a_notice(), "osc9", tmux=True)
    assert wrapped == "\x1bPtmux;\x1b\x1b]9;tokenmaxx: charts is stalled: no event for 61s while streaming\x07\x1b\\"


@pytest.mark.parametrize("style", ["osc9", "osc777"])
def test_hostile_text_cannot_end_the_sequence_or_add_a_field(style: str) -> None:
    notice = a_notice(detail=f"{HOSTILE}; extra\x9c\x1b\\", agent=f"ch;arts{HOSTILE}")
    sequence = notice_sequence(notice, style)  # type: ignore[arg-type]
    head = "\x1b]9;" if style == "osc9" else "\x1b]777;notify;"
    assert sequence.startswith(head) and sequence.endswith("\x07")
    inside = sequence[len(head) : -1]
    assert _CONTROL.search(inside) is None
    assert "␛]52;c;aGVsbG8=" in inside
    assert style == "osc9" or inside.split(";", 1)[0].endswith(" is stalled")


async def told_on_screen(tmp_path: Path, settings: Settings, *, live: bool = True) -> list[str]:
    """What the app writes to its terminal, notices only, as the fleet flags `a` three times over 70 s."""
    fleet = FakeFleet(live=live)
    app = make_app(tmp_path, fleet=fleet)
    app.config = Config(directory=tmp_path / "config", settings=settings)
    written: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        assert app._driver is not None
        app._driver.write = written.append  # type: ignore[method-assign]
        for at in (0.0, 30.0, 70.0):
            fleet.feed(ev.AgentFlagged(agent="a", flag="looping", detail="read_file called 3 times", ts=NOW + at))
        await pilot.pause()
    return [text for text in written if text.startswith(("\x1b]", "\x1bP", "\x07"))]


async def test_a_live_fleet_flag_is_told_to_the_terminal_once_a_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ITERM.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TMUX", raising=False)
    told = await told_on_screen(tmp_path, Settings())
    assert told == ["\x1b]9;tokenmaxx: a is looping: read_file called 3 times\x07"] * 2


async def test_a_terminal_switched_off_a_kind_switched_off_or_a_replay_tells_nothing(tmp_path: Path) -> None:
    assert await told_on_screen(tmp_path, Settings(notify=NotifySettings(terminal=False))) == []
    assert await told_on_screen(tmp_path, Settings(notify=NotifySettings(kinds=["stalled"]))) == []
    assert await told_on_screen(tmp_path, Settings(), live=False) == []


async def test_the_configured_style_wins_over_the_guess(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM_PROGRAM", "iTerm.app")
    monkeypatch.delenv("TMUX", raising=False)
    assert await told_on_screen(tmp_path, Settings(notify=NotifySettings(terminal_style="bell"))) == ["\x07", "\x07"]


async def test_a_headless_run_tells_the_plans_hook_that_its_agent_delivered(tmp_path: Path) -> None:
    head = f'[notify]\ncommand = "cat >> {tmp_path}/hook.jsonl && echo >> {tmp_path}/hook.jsonl"\n{FAST_SIM}'
    plan = make_plan(tmp_path, NOTER, head)
    (tmp_path / "project" / "README.md").write_text("# A project\n\nIt draws charts.\n")
    lines: list[str] = []
    assert await runner.run_headless(plan, tmp_path / "s.db", yes=False, echo=lines.append) == 0, lines
    told = [json.loads(line) for line in (tmp_path / "hook.jsonl").read_text().splitlines()]
    assert [(notice["kind"], notice["agent"]) for notice in told] == [("delivered", "a")]
    assert told[0]["event"]["kind"] == "agent_finished" and told[0]["fleet"] == "t"
