"""A fleet process whose disk fills up stops its writes cleanly, telling every attached client why, and the session resumes."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from tokenmaxx.agents.fleet_process import LOG_NAME, LaunchSpec
from tests.tui.test_storage_faults import EXIT_WITHIN_S, committed, completed, fill, mounted, write_plan
from tokenmaxx.tui.fleet_cli import _closing, start_fleet
from tokenmaxx.tui.remote_fleet import RemoteFleet

__all__ = ["mounted"]  # the fixture, used by name
CAUSE = "the disk is full"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def gone_within(pid: int, seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while alive(pid):
            await asyncio.sleep(0.05)


async def told_why(client: RemoteFleet) -> list[str]:
    """What the attached TUI's terminal keeps once its fleet ended, after checking it exits 2."""
    async with asyncio.timeout(EXIT_WITHIN_S):
        await client.gone.wait()
    lines: list[str] = []
    code = await _closing(client, lambda line, err=False: lines.append(line))
    await client.close()
    assert code == 2, lines
    return lines


@pytest.mark.slow
async def test_a_full_disk_stops_the_fleet_process_and_tells_every_attached_client(tmp_path: Path, mounted: Path) -> None:
    db = mounted / "sessions.db"
    spec = LaunchSpec(kind="run", session_id="full1", db=db, out=tmp_path / "out", cwd=tmp_path, plan=write_plan(tmp_path))
    path = await asyncio.to_thread(start_fleet, spec)
    clients = [await RemoteFleet.attach(path, "tui:one"), await RemoteFleet.attach(path, "tui:two")]
    async with asyncio.timeout(60):
        while committed(db) < 10:
            await asyncio.sleep(0.05)
    pid = clients[0].hello.pid
    filler = await asyncio.to_thread(fill, mounted)
    told = await asyncio.gather(*(told_why(client) for client in clients))
    for client, lines in zip(clients, told, strict=True):
        assert client.ended is not None and client.ended.fault and CAUSE in client.ended.reason
        assert len(lines) == 1 and lines[0].startswith("tokenmaxx: ") and CAUSE in lines[0] and "tokenmaxx resume full1" in lines[0]
    await gone_within(pid, EXIT_WITHIN_S)
    log = (spec.session_folder() / LOG_NAME).read_text()
    assert log.count("tokenmaxx:") == 1 and CAUSE in log and "Traceback" not in log, log
    filler.unlink()
    await asyncio.to_thread(resumes_headless, tmp_path, db, committed(db))


def resumes_headless(folder: Path, db: Path, before: int) -> None:
    """`tokenmaxx resume --headless` finishes the session from what was committed, its events one contiguous run."""
    run = completed("resume", "full1", "--headless", "--db", db, cwd=folder)
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(db) as conn:
        seqs = [row[0] for row in conn.execute("SELECT seq FROM events WHERE session_id = 'full1' ORDER BY seq")]
        (status,) = conn.execute("SELECT status FROM sessions WHERE id = 'full1'").fetchone()
    conn.close()
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > before
    assert status == "done"
