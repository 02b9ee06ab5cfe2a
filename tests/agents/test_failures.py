"""Failures the fleet owns: a bug in an adapter or a subscriber, and artifacts that would stall the event loop."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.artifact_watch import digest
from tokenmaxx.agents.providers.base import ModelRequest
from tokenmaxx.agents.supervisor import BUG_HINT
from tokenmaxx.sessions import events as ev
from tests.agents.scripted import Step, reply
from tests.agents.test_supervisor import ONE_AGENT, run_to_end, supervisor, turns, writer_script

COMMAND_AGENT = ONE_AGENT + 'policy = { run_command = "auto" }\n'
SPARSE_BYTES = 64 << 20


def broken_adapter(request: ModelRequest) -> list[Step]:
    raise RuntimeError("bug in an adapter")


async def test_an_adapter_bug_fails_the_agent_on_the_record_and_wait_returns(tmp_path: Path) -> None:
    sup, sink, _ = supervisor(tmp_path, broken_adapter)
    await run_to_end(sup)
    agent = sup.state.agents["a"]
    assert agent.finished and agent.outcome == "failed"
    assert "RuntimeError('bug in an adapter')" in agent.summary and BUG_HINT in agent.summary and "s1" in agent.summary
    assert sink.events[-1].kind == "session_ended" and sink.events[-1].status == "failed"


async def test_an_agent_killed_before_its_task_first_runs_is_recorded_killed_and_wait_returns(tmp_path: Path) -> None:
    sup, sink, _ = supervisor(tmp_path, writer_script)
    await sup.start()
    sup.handle(cmd.Kill(agent="a"))
    async with asyncio.timeout(5):
        await sup.wait()
    assert sup.state.agents["a"].outcome == "killed"
    assert sink.of("a")[-1].kind == "agent_finished"
    await sup.finish()


async def test_a_raising_subscriber_is_dropped_and_the_agent_that_emitted_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sup, _, _ = supervisor(tmp_path, writer_script)
    sup.log.strict_subscribers = False
    heard: list[str] = []

    def widget_bug(event: ev.Event, state: object) -> None:
        heard.append(event.kind)
        if isinstance(event, ev.TurnStarted):
            raise KeyError("widget bug")

    sup.log.subscribe(widget_bug)
    await run_to_end(sup)
    assert sup.state.agents["a"].outcome == "done"
    assert heard[-1] == "turn_started" and heard.count("turn_started") == 1
    assert [r.message for r in caplog.records if "dropped the subscriber" in r.message]


async def test_a_raising_subscriber_fails_loudly_under_the_tests(tmp_path: Path) -> None:
    sup, _, _ = supervisor(tmp_path, writer_script)

    def widget_bug(event: ev.Event, state: object) -> None:
        if isinstance(event, ev.TurnStarted):
            raise KeyError("widget bug")

    sup.log.subscribe(widget_bug)
    await run_to_end(sup)
    agent = sup.state.agents["a"]
    assert agent.outcome == "failed" and "widget bug" in agent.summary


def sparse_writer(request: ModelRequest) -> list[Step]:
    if turns(request) == 0:
        return reply("Making a big file.", ("run_command", {"command": f"truncate -s {SPARSE_BYTES} big.bin"}))
    return reply("Done.")


async def test_hashing_an_artifact_lets_other_coroutines_run(tmp_path: Path) -> None:
    sup, sink, _ = supervisor(tmp_path, sparse_writer, COMMAND_AGENT, watch_out=False)
    ticks = 0
    ticks_at: dict[str, int] = {}
    sup.log.subscribe(lambda e, s: ticks_at.setdefault(e.kind, ticks) if e.kind in ("tool_result", "artifact") else None)

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    beating = asyncio.create_task(heartbeat(), name="heartbeat")
    try:
        await run_to_end(sup)
    finally:
        beating.cancel()
    artifact = next(e for e in sink.events if isinstance(e, ev.Artifact))
    assert artifact.path == "a/big.bin" and artifact.bytes == SPARSE_BYTES
    assert ticks_at["artifact"] > ticks_at["tool_result"], "the event loop stood still while the artifact was hashed"


async def test_a_fifo_is_refused_at_once_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "planted"
    os.mkfifo(fifo)
    try:
        with pytest.raises(OSError, match="not a regular file"):
            await asyncio.wait_for(digest(fifo), timeout=10)
    finally:
        _release_readers(fifo)


def _release_readers(fifo: Path) -> None:
    """Let a reader stuck on `fifo` (the bug under test) see end of file, so a failing test cannot hang."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass
