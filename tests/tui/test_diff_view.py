"""A coding agent's diff on the agent screen: highlighted file by file, and `x` sending a note back as rework."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Label, TextArea

from tokenmaxx.agents import commands as cmd
from tokenmaxx.sessions import events as ev
from tests.tui.fake_fleet import T0, FakeFleet
from tests.tui.helpers import SIZE, make_app
from tests.tui.test_snapshots import wait_for_workers
from tokenmaxx.tui.widgets.artifact_preview import split_patch
from tokenmaxx.tui.widgets.diff_lines import DiffLine, comment_note, section_lines

PATCH = """\
diff --git a/README.md b/README.md
index 1111111..2222222 100644
--- a/README.md
+++ b/README.md
@@ -1,3 +1,3 @@
 # Project
-line two
+line two by coder
 line three
diff --git a/src/app.py b/src/app.py
new file mode 100644
index 0000000..3333333
--- /dev/null
+++ b/src/app.py
@@ -0,0 +1,3 @@
+def main() -> None:
+    print("hello")
+
"""
DIFF = ev.DiffSummary(
    branch="tokenmaxx/s1/coder",
    base_sha="abc123",
    target="main",
    files=[ev.DiffFile(path="README.md", added=1, removed=1), ev.DiffFile(path="src/app.py", added=3, removed=0)],
    added=4,
    removed=1,
    applies=True,
)


def coder_fleet(out_root: Path) -> FakeFleet:
    (out_root / "coder").mkdir(parents=True)
    (out_root / "coder" / "changes.diff").write_text(PATCH)
    fleet = FakeFleet(out_root=out_root)
    fleet.feed(
        ev.SessionStarted(name="coding fleet", cwd="/repo", version="0.1.0", ts=T0),
        ev.AgentQueued(agent="coder", role="coder", provider="sim", model="claude-sonnet-4-6", task="Edit the readme.", ts=T0),
        ev.AgentStatusChanged(agent="coder", status="starting", iteration=1, ts=T0 + 1),
        ev.Artifact(agent="coder", path="coder/changes.diff", bytes=len(PATCH), sha256="d1", diff=DIFF, ts=T0 + 20),
        ev.AgentFinished(agent="coder", outcome="done", summary="Done.", ts=T0 + 21),
    )
    return fleet


def test_the_diff_view(snap_compare, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """coder up close: the preview titled 'diff · coder/changes.diff' says '2 files · +4 −1 · tokenmaxx/s1/coder ·
    merges cleanly into main', then a rule 'README.md  +1 −1' over its hunk (the removed line red, the added green) and
    a rule 'src/app.py  +3 −0' over the new file's hunk."""
    app = make_app(tmp_path, fleet=coder_fleet(tmp_path / "out"))
    assert snap_compare(app, terminal_size=SIZE, press=["enter"], run_before=wait_for_workers)


def test_a_patch_splits_into_one_section_per_file() -> None:
    sections = split_patch(PATCH)
    assert [s.splitlines()[0] for s in sections] == ["diff --git a/README.md b/README.md", "diff --git a/src/app.py b/src/app.py"]


async def test_x_on_a_diff_sends_the_note_with_the_rejection(tmp_path: Path) -> None:
    fleet = coder_fleet(tmp_path / "out")
    app = make_app(tmp_path, fleet=fleet)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for_workers(pilot)
        await pilot.press("x")
        await write_and_send(pilot, "Keep line two as it was.")
    assert fleet.commands[-1] == cmd.Reject(agent="coder", path="coder/changes.diff", note="Keep line two as it was.")


async def test_c_on_a_selected_line_sends_the_comment_back_as_rework(tmp_path: Path) -> None:
    fleet = coder_fleet(tmp_path / "out")
    app = make_app(tmp_path, fleet=fleet)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_for_workers(pilot)
        assert not comment_offered(pilot)
        await pilot.click("#preview", offset=(4, 1 + 7))  # the border, then README.md's " # Project"
        await pilot.press("down", "down")
        await pilot.pause()
        assert comment_offered(pilot)
        await pilot.press("c")
        await pilot.pause()
        assert "README.md line 2" in str(app.screen.query_one("#title", Label).render())
        await write_and_send(pilot, "Keep the old wording.")
    note = "Comment on README.md line 2 (`line two by coder`): Keep the old wording."
    assert fleet.commands[-1] == cmd.Reject(agent="coder", path="coder/changes.diff", note=note)
    assert fleet.state.agents["coder"].rework == 1


async def write_and_send(pilot: Pilot[None], text: str) -> None:
    """Type `text` into the open reprompt box and send it."""
    await pilot.pause()
    pilot.app.screen.query_one(TextArea).insert(text)
    await pilot.press("ctrl+s")
    await pilot.pause()


def comment_offered(pilot: Pilot[None]) -> bool:
    """Whether `c` applies on the screen and the footer shows it."""
    shown = "comment" in [b.binding.action for b in pilot.app.screen.active_bindings.values()]
    return shown and pilot.app.screen.check_action("comment", ()) is True


def test_hunk_lines_carry_their_numbers_in_the_file() -> None:
    lines = [line for line in section_lines("src/app.py", split_patch(PATCH)[1]) if line is not None]
    assert lines == [DiffLine("src/app.py", 1, "def main() -> None:"), DiffLine("src/app.py", 2, '    print("hello")'), DiffLine("src/app.py", 3, "")]
    removed = [line for line in section_lines("README.md", split_patch(PATCH)[0]) if line is not None and line.removed]
    assert removed == [DiffLine("README.md", 2, "line two", removed=True)]
    assert comment_note(removed[0], " why? ") == "Comment on README.md line 2 of the old file, removed (`line two`): why?"
