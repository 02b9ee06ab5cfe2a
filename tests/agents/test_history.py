"""`history = true`: an agent's commands mine a read-only snapshot of the session history, never the live database."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tokenmaxx.agents.history import HistorySnapshots
from tokenmaxx.agents.plan_models import AgentSpec
from tokenmaxx.agents.providers.base import ModelRequest
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.agents.tools import Workspace, run_tool
from tokenmaxx.agents.tools.sandbox import HISTORY_MOUNT
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.store import Store
from tokenmaxx.sessions.store_api import SessionStore, StoreTarget, open_store
from tests.agents.scripted import ScriptedProvider, Step, make_plan, reply
from tests.agents.test_sandbox import needs_bwrap
from tests.agents.test_supervisor import turns

BASE_TS = 1_767_225_600.0  # 2026-01-01 00:00 UTC
SIM = '[providers.sim]\nkind = "sim"\nspeed = 1000.0\n'
LOGS = """[[agents]]
name = "logs"
role = "log-analyst"
task = "Chart the fleet's failures from $TOKENMAXX_HISTORY."
tools = ["read_file", "list_files", "write_file", "run_command"]
policy = {{ run_command = "auto" }}
sandbox = "{sandbox}"
history = true
"""


async def record_previous_session(store: SessionStore) -> None:
    """An earlier session of the fleet in which an agent looped and was killed."""
    store.append("before", ev.AgentFlagged(agent="charts", flag="looping", ts=BASE_TS))
    store.append("before", ev.AgentFinished(agent="charts", outcome="killed", summary="killed", ts=BASE_TS + 60))
    await store.flush()


async def run_fleet(sup: Supervisor, timeout: float = 30) -> None:
    await sup.start()
    try:
        async with asyncio.timeout(timeout):
            await sup.wait()
    finally:
        await sup.finish()


def event_count(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


async def command_outputs(store: SessionStore, sup: Supervisor) -> list[str]:
    """What the agent's commands printed, as recorded."""
    await store.flush()
    events = await store.events(sup.session_id, agent="logs")
    commands = {e.call_id for e in events if isinstance(e, ev.ToolCall) and e.tool == "run_command"}
    return [e.output for e in events if isinstance(e, ev.ToolResult) and e.call_id in commands]


@pytest.mark.parametrize("sandbox", [pytest.param("bwrap", marks=needs_bwrap), "none"])
async def test_the_log_analyst_charts_failures_of_a_previous_session(tmp_path: Path, sandbox: str, store_target: StoreTarget) -> None:
    """A real fleet on the sim, on either store: the chart holds the earlier session's failures, from a snapshot removed at the end."""
    async with await open_store(store_target) as store:
        await record_previous_session(store)
        plan = make_plan(tmp_path, LOGS.format(sandbox=sandbox), SIM)
        sup = Supervisor.create(plan, store, headless=True, auto_yes=True)
        await run_fleet(sup)
        outputs = await command_outputs(store, sup)
    out = tmp_path / "out" / sup.session_id / "logs"
    rows = list(csv.DictReader(io.StringIO((out / "failures.csv").read_text())))
    assert rows == [
        {"bucket": "2026-01-01 00:00", "root_cause": "killed", "count": "1"},
        {"bucket": "2026-01-01 00:00", "root_cause": "looping", "count": "1"},
    ]
    assert "No failures yet" not in (out / "failures.svg").read_text()
    assert sup.state.agents["logs"].outcome == "done"
    snapshot = Path(outputs[0].split(" of ", 1)[1].splitlines()[0])
    assert "scanned" in outputs[0] and "in 2 sessions" in outputs[0]
    if sandbox == "bwrap":
        assert str(snapshot) == HISTORY_MOUNT
    else:
        assert snapshot.parent.name.startswith("tokenmaxx-history-") and not snapshot.parent.exists()


@needs_bwrap
async def test_under_bwrap_the_snapshot_is_read_only_and_the_live_database_out_of_reach(tmp_path: Path) -> None:
    """From inside a command: writing $TOKENMAXX_HISTORY fails, and the live database's path is not there."""
    live = tmp_path / "sessions.db"
    command = (
        f'echo "at $TOKENMAXX_HISTORY"; echo x >> "$TOKENMAXX_HISTORY" && echo copy-written || echo copy-refused; '
        f'python3 -c "import sqlite3, os; c = sqlite3.connect(os.environ[\'TOKENMAXX_HISTORY\']); '
        f'c.execute(\'DELETE FROM events\'); c.commit()" && echo rows-deleted || echo delete-refused; '
        f'test -e "{live}" && echo live-visible || echo live-hidden; echo "db=${{TOKENMAXX_DB:-unset}}"'
    )

    def script(request: ModelRequest) -> list[Step]:
        return reply("", ("run_command", {"command": command})) if turns(request) == 0 else reply("done")

    async with await Store.open(live) as store:
        await record_previous_session(store)
        plan = make_plan(tmp_path, LOGS.format(sandbox="bwrap"))
        sup = Supervisor.create(plan, store, headless=True, providers={"sim": ScriptedProvider(script)})
        await run_fleet(sup)
        [output] = await command_outputs(store, sup)
    assert f"at {HISTORY_MOUNT}" in output
    assert "copy-refused" in output and "delete-refused" in output
    assert "live-hidden" in output and "db=unset" in output
    with closing(sqlite3.connect(live)) as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE session_id = 'before'").fetchone()[0] == 2


async def test_a_database_too_large_to_copy_is_skipped_with_a_note_the_command_sees(tmp_path: Path, store_target: StoreTarget) -> None:
    """Past the bound nothing is copied: $TOKENMAXX_HISTORY is unset and a note says why, to the command and the model."""
    spec = AgentSpec(name="logs", role="log-analyst", task="t", history=True)
    async with await open_store(store_target) as store:
        await record_previous_session(store)
        snapshots = HistorySnapshots(store, max_bytes=1)
        await snapshots.take(spec)
        copy = snapshots.copy_for("logs")
        await snapshots.close()
    assert copy is not None and copy.path is None and "more than the 0 MB" in copy.note
    (tmp_path / "project").mkdir()
    ws = Workspace(tmp_path / "project", tmp_path / "out", "logs", history=copy)
    command = 'echo "[${TOKENMAXX_HISTORY:-unset}] $TOKENMAXX_HISTORY_NOTE"'
    outcome = await run_tool("run_command", {"command": command}, ws)
    assert f"[unset] {copy.note}" in outcome.output
    assert f"[$TOKENMAXX_HISTORY is not set: {copy.note}]" in outcome.output


async def test_each_fresh_start_takes_a_new_snapshot_and_an_agent_without_history_gets_none(store_target: StoreTarget) -> None:
    """The second snapshot holds what was recorded after the first; an agent that does not ask has no copy."""
    async with await open_store(store_target) as store:
        snapshots = HistorySnapshots(store)
        await snapshots.take(AgentSpec(name="logs", role="log-analyst", task="t", history=True))
        first = snapshots.copy_for("logs")
        assert first is not None and first.path is not None and event_count(first.path) == 0
        await record_previous_session(store)
        await snapshots.take(AgentSpec(name="logs", role="log-analyst", task="t", history=True))
        await snapshots.take(AgentSpec(name="charts", role="chart-builder", task="t"))
        second = snapshots.copy_for("logs")
        assert second is not None and second.path is not None and event_count(second.path) == 2
        assert snapshots.copy_for("charts") is None
        await snapshots.close()
    assert not second.path.parent.exists()
