"""Hostile or broken inputs besides plans: a database path that is a device or FIFO, an export with NaN, a recording whose artifacts point out of its folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.store import Store
from tests.tui.fake_fleet import T0
from tests.tui.helpers import SIZE, fleet_of, make_app, select
from tests.tui.replay_helpers import DEMO
from tokenmaxx.tui import opener
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.replay_fleet import ReplayFleet
from tokenmaxx.tui.screens.fleet import FleetScreen

DEADLINE_S = 60


def tokenmaxx(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tokenmaxx.tui", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=DEADLINE_S)


def notices(app: TokenmaxxApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


@pytest.mark.parametrize("kind", ["/dev/null", "fifo"])
def test_a_database_path_that_is_not_a_regular_file_is_one_clear_line(tmp_path: Path, kind: str) -> None:
    db = Path(kind) if kind.startswith("/") else tmp_path / kind
    if kind == "fifo":
        os.mkfifo(db)
    result = tokenmaxx("sessions", "--db", db, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == f"tokenmaxx: --db {db}: not a regular file (a device, FIFO or socket); give the path of a session database file\n"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_an_import_with_a_number_that_is_not_finite_names_the_line_and_imports_nothing(tmp_path: Path, number: str) -> None:
    lines = DEMO.read_text().splitlines(keepends=True)[:5]
    head, _, rest = lines[2].partition('"ts":')
    lines[2] = head + f'"ts":{number}' + rest[rest.index(","):]
    export = tmp_path / "session.jsonl"
    export.write_text("".join(lines))
    result = tokenmaxx("import", export, "--db", tmp_path / "s.db", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    value = {"NaN": "nan", "Infinity": "inf", "-Infinity": "-inf"}[number]
    assert result.stderr == f"tokenmaxx: {export}:3: agent_queued.ts: {value} is not a finite number\n"
    listed = tokenmaxx("sessions", "--json", "--db", tmp_path / "s.db", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"


@pytest.mark.parametrize("path", ["../secret.md", "charts/../../secret.md", "/etc/hostname", "charts/link.md"])
async def test_o_refuses_an_artifact_path_that_leads_out_of_the_output_folder(tmp_path: Path, path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secret.md").write_text("# the user's own notes\n")
    app = make_app(tmp_path, live=False)
    opened: list[Path] = []
    monkeypatch.setattr(opener, "open_with_system", opened.append)
    async with app.run_test(size=SIZE) as pilot:
        (tmp_path / "out" / "charts" / "link.md").symlink_to(tmp_path / "secret.md")
        fleet_of(app).feed(ev.Artifact(agent="charts", path=path, bytes=10, sha256="s", ts=T0 + 122))
        await select(pilot, "charts")
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen) and not opened
        assert f"refused to open {path!r}" in notices(app)


async def _record(db: Path, session_id: str, out: Path) -> None:
    async with await Store.open(db) as store:
        store.append(session_id, ev.SessionStarted(name="n", plan=None, cwd=str(db.parent), version="1", out=str(out)))
        store.append(session_id, ev.SessionEnded(status="done"))


@pytest.mark.parametrize("out", ["/", "home", "home/c0ffeec0ffee/.."])
async def test_a_recording_naming_a_folder_that_is_not_its_own_output_opens_nothing(tmp_path: Path, out: str) -> None:
    """A session writes to `<out>/<its id>`; an imported recording that names `/` or a home folder gets no files opened from it."""
    (tmp_path / "home" / "c0ffeec0ffee").mkdir(parents=True)
    await _record(tmp_path / "s.db", "c0ffeec0ffee", tmp_path / out if out != "/" else Path("/"))
    fleet = await ReplayFleet.open(tmp_path / "s.db", "c0ffee")
    try:
        assert fleet.out_root is None
    finally:
        await fleet.close()
