"""Snapshots of every screen and meaningful state, at 120x40 on the sample fleet with the clock fixed."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tokenmaxx.sessions import events as ev
from tests.tui.fake_fleet import T0
from tests.tui.helpers import SIZE, make_app, select
from tests.tui.pipeline_fleet import pipeline_fleet
from tokenmaxx.themes import BUILTIN_THEMES

NARROW = (80, 24)


async def wait_for_workers(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.repaint()  # type: ignore[attr-defined]
    await pilot.pause()


async def type_reprompt(pilot: Pilot[None]) -> None:
    await pilot.press("r")
    pilot.app.screen.query_one(TextArea).cursor_blink = False
    await pilot.press(*"Add a caption", "enter", *"then stop.")


def test_fleet_grid(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The red banner names facts (A), deck (r reprompt) and critic (R restart · k kill); the meter shows $0.0767+? sim
    of $5.00 with 5.8k unpriced tokens in amber; eight panes in three columns, charts under the cursor (double border)
    with its last two lines, the second wrapped; deck amber STALLED, critic pink LOOPING at iter 3/5, local DONE at an
    amber '?', flaky RETRYING in 15s, review waiting."""
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE)


def test_fleet_table_sorted_by_cost(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The table view (t) sorted by cost (2): charts ($0.0231) first under the cursor, unpriced local ('?') near the end;
    a header, then one row per agent with status, model, time, in/out tokens, cost and what it does now, every other row
    striped; the viewbar says 'sorted by cost'."""
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, press=["t", "2"])


def test_fleet_grid_at_80x24(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The grid in an 80x24 terminal: the meter leaves out reasoning, saved, tok/s and the spend bar, shortens the unpriced
    count to '+5.8k tok' (a USD budget cannot count them) and halves the sparkline, so 'hit 36%', '$0.0767+? sim / $5.00',
    'burn $2.87/h', 'budget left 1h42m', '-/accepted' and 'interventions 0' read whole; the panes in two columns."""
    assert snap_compare(make_app(tmp_path), terminal_size=NARROW)


def test_fleet_table_at_80x24(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The table in an 80x24 terminal: no model column, status narrowed to 18 (AWAITING APPROVAL… whole, its tool cut),
    time, in/out, every cost whole ('$0.0231 sim', '?', '$0.0000') and a 'now' column of 15 cells at the right."""
    assert snap_compare(make_app(tmp_path), terminal_size=NARROW, press=["t"])


async def filter_and_tag(pilot: Pilot[None]) -> None:
    await pilot.press("l", "space", "slash")
    pilot.app.screen.query_one(Input).cursor_blink = False
    await pilot.press(*"!sim")


def test_fleet_filtered_and_tagged(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The grid filtered to '!sim' (everything not on the sim provider) with logs tagged (space): four panes in two
    columns, taller to fill the height, logs highlighted as tagged, the viewbar says "excluding 'sim'", the filter
    input open at the bottom and the footer offering only esc to clear."""
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=filter_and_tag)


def test_agent_screen(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """charts up close: its summary pane, the transcript (task, turn 1 text, the write_file call and its result,
    the artifact, usage, and last the line it is still streaming), one row of usage per turn, the artifact list and
    the SVG shown as text."""
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, press=["enter"], run_before=wait_for_workers)


def test_reprompt_input_for_a_busy_agent(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The reprompt modal over the fleet for charts, which is streaming: the hint says the message will wait for a
    safe point or ctrl+n interrupts; two typed lines in the text area; Cancel, Send now and Send buttons, and a footer
    with ^s, ^n and esc."""
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=type_reprompt)


def test_approvals_queue(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The approvals modal (A): facts wants run_command with the curl arguments, waiting 25s; the footer offers
    y approve, a always allow, n deny, esc close."""
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, press=["A"])


@pytest.mark.parametrize("theme", [t.name for t in BUILTIN_THEMES])
def test_fleet_in_each_theme(snap_compare, tmp_path: Path, theme: str) -> None:  # type: ignore[no-untyped-def]
    """The fleet grid in one built-in theme: statuses, flags, the amber unknown price and the banner stay readable."""
    assert snap_compare(make_app(tmp_path, theme=theme), terminal_size=SIZE)


def test_pipeline_of_the_demo(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The pipeline (P) of the demo's five agents at 190x32, four layers left to right: charts (DONE, selected in a
    double box, its edges lit) and factcheck (STREAMING, ⚑ STALLED) first; logs (plan changed) beside them; deck
    WAITING ON DEPS fed by three edges labelled 'loc.svg, loc.csv', 'failures.csv' and 'report.md'; critique waiting
    at 'iter 1 ≤$0.5000'."""
    app = make_app(tmp_path, fleet=pipeline_fleet(tmp_path / "out"))
    assert snap_compare(app, terminal_size=(190, 32), press=["P"])


async def zoom_critic_after_a_plan_change(pilot: Pilot[None]) -> None:
    fleet = pilot.app.fleet  # type: ignore[attr-defined]
    fleet.feed(ev.PlanLoaded(path="fleet.toml", agents=list(fleet.state.agents), reload=True, changed_on_restart=["critic"], ts=T0 + 121))
    await select(pilot, "critic")
    await pilot.press("enter")
    await wait_for_workers(pilot)


def test_agent_screen_of_a_looping_agent_with_a_plan_change(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """critic up close: its pane says LOOPING at iter 3/5 with the looping badge and 'plan changed: takes effect on
    restart (R)'; the iterations box above usage reads '1: $0.0105 · 2: $0.0105 · 3: $0.0000 (running)'."""
    assert snap_compare(make_app(tmp_path), terminal_size=SIZE, run_before=zoom_critic_after_a_plan_change)
