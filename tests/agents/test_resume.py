"""A session whose runner was killed with SIGKILL resumes where it stopped and finishes as one session."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tokenmaxx.agents.conversation import rebuild
from tokenmaxx.agents.loop import AgentLoop
from tokenmaxx.agents.resume import CannotResume, resume, resumed_supervisor
from tokenmaxx.agents.runs import AgentRun
from tokenmaxx.sessions.store import Store

PLAN = """
name = "resumable"
workdir = "project"
out = "out"
stall_after = 30
workers = {workers}

[providers.sim]
kind = "sim"
speed = 0.6

[roles.notetaker]
prompt = "You read files and take notes."

{agents}
"""
AGENT = """
[[agents]]
name = "{name}"
role = "notetaker"
task = "Read the project's files and write notes.md about them."
"""


def write_plan(tmp_path: Path, workers: int = 1) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for i in range(3):
        (project / f"module{i}.py").write_text(f'"""Module {i}."""\n\ndef f{i}():\n    return {i}\n')
    agents = "".join(AGENT.format(name=n) for n in ("a", "b", "c"))
    plan = tmp_path / "fleet.toml"
    plan.write_text(PLAN.format(agents=agents, workers=workers))
    return plan


def committed_usages(db: Path) -> int:
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM events WHERE kind = 'usage'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def kill_mid_run(plan: Path, db: Path) -> None:
    runner = subprocess.Popen(
        [sys.executable, "-m", "tokenmaxx.tui", "run", str(plan), "--headless", "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while committed_usages(db) < 2:
        assert runner.poll() is None, runner.stderr.read().decode() if runner.stderr else ""
        assert time.monotonic() < deadline, "the runner never reported usage"
        time.sleep(0.05)
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    runner.stderr.close()  # type: ignore[union-attr]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
async def test_a_killed_session_resumes_and_finishes_as_one(tmp_path: Path, workers: int) -> None:
    db = tmp_path / "s.db"
    await asyncio.to_thread(kill_mid_run, write_plan(tmp_path, workers), db)
    async with await Store.open(db) as store:
        (summary,) = await store.sessions()
        assert summary.status == "interrupted"
        before = await store.events(summary.id)
        assert before[-1].kind != "session_ended"

        supervisor, events = await resumed_supervisor(store, summary.id, headless=True)
        assert [e.seq for e in events] == [e.seq for e in before]
        await resume(supervisor, events)
        async with asyncio.timeout(60):
            await supervisor.wait()
        await supervisor.finish()
        await store.flush()

        after = await store.events(summary.id)
        (final,) = await store.sessions()
    assert after[: len(before)] == before
    assert [e.seq for e in after] == list(range(1, len(after) + 1))
    assert final.status == "done" and final.id == summary.id
    assert {n: a.outcome for n, a in supervisor.state.agents.items()} == {"a": "done", "b": "done", "c": "done"}
    usages = [e for e in after if e.kind == "usage"]
    assert len({(e.seq) for e in usages}) == len(usages)
    assert final.input_tokens == sum(e.input_tokens for e in usages)
    assert final.output_tokens == sum(e.output_tokens for e in usages)
    assert sum(1 for e in after if e.kind == "session_resumed") == 1
    for name in ("a", "b", "c"):
        assert (tmp_path / "out" / summary.id / name / "notes.md").exists()


async def test_the_resumed_conversation_is_the_one_that_was_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    await asyncio.to_thread(kill_mid_run, write_plan(tmp_path), db)
    async with await Store.open(db) as store:
        (summary,) = await store.sessions()
        supervisor, events = await resumed_supervisor(store, summary.id, headless=True)
        started = [n for n, a in supervisor.state.agents.items() if a.turn > 0 and not a.finished]
        emitted: list[object] = []
        supervisor.log.subscribe(lambda event, state: emitted.append(event))
        await resume(supervisor, events)
        assert started
        for name in started:
            live = (await adopted_runner(supervisor.runs[name])).conversation.request_messages()
            assert live == rebuild([*events, *emitted], name).request_messages()  # type: ignore[list-item]
            assert live[0].text.startswith("Read the project's files")
            assert "interrupted and has been resumed" in live[-1].text
        await supervisor.finish("stopped")


async def adopted_runner(run: AgentRun) -> AgentLoop:
    """The runner the resumed agent takes up its recorded conversation in, as soon as it has one."""
    for _ in range(1000):
        if isinstance(run.runner, AgentLoop):
            return run.runner
        await asyncio.sleep(0)
    raise AssertionError(f"{run.name} never got a runner")


async def test_finished_and_running_sessions_are_not_resumed(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    await asyncio.to_thread(kill_mid_run, write_plan(tmp_path), db)
    async with await Store.open(db) as store:
        (summary,) = await store.sessions()
        supervisor, events = await resumed_supervisor(store, summary.id, headless=True)
        await resume(supervisor, events)
        await store.flush()
        with pytest.raises(CannotResume, match="still running"):
            await resumed_supervisor(store, summary.id)
        await supervisor.wait()
        await supervisor.finish()
        await store.flush()
        with pytest.raises(CannotResume, match="is done: nothing is left to do"):
            await resumed_supervisor(store, summary.id)


async def test_a_stopped_session_reads_as_running_once_resumed(tmp_path: Path) -> None:
    from tokenmaxx.sessions import events as ev

    async with await Store.open(tmp_path / "s.db") as store:
        store.append("s1", ev.SessionStarted(name="n", cwd="/", version="0"))
        store.append("s1", ev.SessionEnded(status="stopped"))
        await store.flush()
        assert (await store.session("s1")).status == "stopped"
        store.append("s1", ev.SessionResumed(version="0", agents=["a"]))
        await store.flush()
        resumed = await store.session("s1")
        assert resumed.status == "running" and resumed.ended_at is None


async def test_a_resumed_session_writes_where_it_wrote_before(tmp_path: Path) -> None:
    """A run given --out keeps its folder on resume, not the plan's `out`."""
    from tokenmaxx.sessions import events as ev

    plan = write_plan(tmp_path)
    elsewhere = tmp_path / "given-with-out" / "s2"
    async with await Store.open(tmp_path / "s.db") as store:
        store.append("s2", ev.SessionStarted(name="resumable", plan=str(plan), cwd=str(tmp_path), version="0", out=str(elsewhere)))
        store.append("s2", ev.AgentQueued(agent="a", role="notetaker", provider="sim", model="sim", after=[]))
        store.append("s2", ev.SessionEnded(status="stopped"))
        await store.flush()
        supervisor, _ = await resumed_supervisor(store, "s2", headless=True)
        assert supervisor.out_root == elsewhere
