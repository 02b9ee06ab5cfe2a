"""`tokenmaxx resume` in a fleet process: checked in the foreground, run in the background holding the session's lock."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tokenmaxx.agents.fleet_client import find_fleets, stop
from tokenmaxx.agents.notify import NotifySettings
from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.resume import CannotResume
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.store import Store
from tests.agents.test_resume import kill_mid_run, write_plan
from tests.agents.test_resume_lock import session_id
from tokenmaxx.tui.fleet_cli import resume_spec, start_fleet


@pytest.fixture
def interrupted(tmp_path: Path) -> Path:
    db = tmp_path / "s.db"
    kill_mid_run(write_plan(tmp_path), db)
    return db


def test_resume_starts_a_fleet_process_that_holds_the_sessions_lock(interrupted: Path, fleet_runtime_dir: Path) -> None:
    sid = session_id(interrupted)
    accepted: list[Plan] = []
    spec = asyncio.run(resume_spec(sid[:6], interrupted, force=None, accept=accepted.append, notify=NotifySettings()))
    assert spec.kind == "resume" and spec.session_id == sid and [p.name for p in accepted] == ["resumable"]
    path = start_fleet(spec)
    try:
        (found,) = asyncio.run(find_fleets())
        assert found.hello is not None and found.hello.session_id == sid
        again = subprocess.run(
            [sys.executable, "-m", "tokenmaxx.tui", "resume", sid, "--headless", "--db", str(interrupted)], capture_output=True, text=True, timeout=60
        )
        assert again.returncode == 2 and f"session {sid} is still running in tokenmaxx pid {found.hello.pid}" in again.stderr
        with pytest.raises(CannotResume, match="still running"):
            asyncio.run(resume_spec(sid, interrupted, force=None, accept=accepted.append, notify=NotifySettings()))
    finally:
        asyncio.run(stop(path, "test"))
    async def recorded() -> list[ev.Event]:
        async with await Store.open(interrupted) as store:
            return await store.events(sid)

    assert any(isinstance(e, ev.SessionResumed) for e in asyncio.run(recorded()))
    assert (spec.session_folder() / "fleet.log").is_file()
