"""Stop all stops: a stalled stream, a running tool and an approval in waiting are cut short, and resume all goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.commanding import STOPPED_NOTE
from tokenmaxx.agents.conversation import rebuild
from tokenmaxx.agents.providers.base import ModelRequest, TextPart
from tests.agents.scripted import Hang, Step, reply, until
from tests.agents.test_supervisor import ONE_AGENT, supervisor


def told_to_go_on(request: ModelRequest) -> bool:
    last = request.messages[-1]
    return any(isinstance(p, TextPart) and "[supervisor]" in p.text for p in last.parts)


def stalling_script(request: ModelRequest) -> list[Step]:
    if told_to_go_on(request):
        return reply("Carrying on, and done.")
    return [*reply("thinking ")[:1], Hang()]


def sleeping_tool_script(request: ModelRequest) -> list[Step]:
    if told_to_go_on(request):
        return reply("Carrying on, and done.")
    return reply("Running a long command.", ("run_command", {"command": "sleep 30"}))


async def test_stop_all_stops_a_stalled_stream_at_once_and_resume_all_tells_it_to_go_on(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, stalling_script)
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming" and sink.kinds("a").count("text") >= 1)
    sup.handle(cmd.StopAll())
    await until(lambda: sup.state.agents["a"].status == "paused", timeout=3)
    assert provider.closed_streams == 1 and sup.state.stopped == ("a",)
    sup.handle(cmd.ResumeAll())
    async with asyncio.timeout(5):
        await sup.wait()
    assert sup.state.agents["a"].outcome == "done"
    assert f"[supervisor] {STOPPED_NOTE}" in provider.requests[-1].messages[-1].text
    assert rebuild(sink.events, "a").request_messages()[: len(provider.requests[-1].messages)] == provider.requests[-1].messages
    await sup.finish()


@pytest.mark.parametrize(("policy", "busy"), [("auto", "tool"), ("ask", "awaiting_approval")])
async def test_stop_all_interrupts_a_running_command_or_its_approval(tmp_path: Path, policy: str, busy: str) -> None:
    agents = ONE_AGENT + f'tools = ["run_command"]\npolicy = {{ run_command = "{policy}" }}\n'
    sup, sink, provider = supervisor(tmp_path, sleeping_tool_script, agents)
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == busy)
    sup.handle(cmd.StopAll())
    await until(lambda: sup.state.agents["a"].status == "paused", timeout=3)
    assert sup.state.agents["a"].pending == ()
    sup.handle(cmd.ResumeAll())
    async with asyncio.timeout(5):
        await sup.wait()
    assert sup.state.agents["a"].outcome == "done"
    await sup.finish()


async def test_resuming_one_stopped_agent_by_hand_also_tells_it_to_go_on(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, stalling_script)
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming")
    sup.handle(cmd.StopAll())
    await until(lambda: sup.state.agents["a"].status == "paused", timeout=3)
    sup.handle(cmd.Resume(agent="a"))
    async with asyncio.timeout(5):
        await sup.wait()
    assert sup.state.agents["a"].outcome == "done"
    await sup.finish()
