"""Snapshots of the replay screen at 120x40 on the recorded demo session, opened from the session browser, the clock fixed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from tests.tui.helpers import SIZE
from tests.tui.replay_helpers import DEMO_ID, demo_db, replay_app, settled


def opened_then(*keys: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Open the demo session as the browser's enter would (playing from the start), pause it, then press `keys`."""

    async def run_before(pilot: Pilot[None]) -> None:
        await settled(pilot)
        pilot.app.open_replay(DEMO_ID)  # type: ignore[attr-defined]
        await settled(pilot)
        await pilot.press("space", *keys)
        await settled(pilot)

    return run_before


def test_replay_paused(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Paused halfway (event 90 of 176): charts done, logs writing its failures chart, factcheck streaming; the
    timeline shows '❚❚ 1x', the played part of the bar in blue up to the cursor dot, the markers (amber ⚑ flags, violet
    ◆ interventions, green ■ artifacts) on both sides, '90/176', and below the session time, tokens, dollars and the
    nearest marker, #93 logs wrote logs/failures.csv. The footer offers the replay keys and esc Back, no supervision keys."""
    assert snap_compare(replay_app(tmp_path, demo_db(tmp_path)), terminal_size=SIZE, run_before=opened_then("g", *["shift+right"] * 5))


def test_replay_playing(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Playing at 10x from event 36 (the fixed clock keeps it there): the timeline starts with a blue '▶ 10x', the
    cursor a fifth of the way along, the looping flag of charts just ahead as the nearest marker."""
    keys = ("g", "shift+right", "shift+right", *["right_square_bracket"] * 3, "space")
    assert snap_compare(replay_app(tmp_path, demo_db(tmp_path)), terminal_size=SIZE, run_before=opened_then(*keys))


def test_replay_at_a_marker(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """At the second marker (n twice from the start, event 47): the watchdog has just restarted charts after flagging
    it as looping; the timeline's cursor sits on that ◆ and names it: '#47 watchdog restart charts'."""
    assert snap_compare(replay_app(tmp_path, demo_db(tmp_path)), terminal_size=SIZE, run_before=opened_then("g", "n", "n"))
