"""The supervisor against scripted providers: the loop, every command, budgets, dependencies, the watchdog."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.conversation import rebuild
from tokenmaxx.agents.providers.base import ModelRequest, ProviderFailure, TextPart, ToolResultPart, Usage
from tokenmaxx.agents.supervisor import CommandError, Supervisor
from tokenmaxx.sessions.log import EventLog
from tests.agents.scripted import Hang, MemorySink, ScriptedProvider, Step, make_plan, reply, until

ONE_AGENT = """
[[agents]]
name = "a"
role = "chart-builder"
task = "Write a note."
"""


def turns(request: ModelRequest) -> int:
    return sum(1 for m in request.messages if m.role == "assistant")


def writer_script(request: ModelRequest) -> list[Step]:
    if turns(request) == 0:
        return reply("I will write the note.", ("write_file", {"path": "note.md", "content": "# hi\n"}))
    return reply("Done: note.md written.")


def hanging_script(request: ModelRequest) -> list[Step]:
    last = request.messages[-1]
    if any(isinstance(p, TextPart) and "[supervisor]" in p.text for p in last.parts):
        return reply("Understood, finishing.")
    return [*reply("thinking ")[:1], Hang()]


def supervisor(tmp_path: Path, script, agents: str = ONE_AGENT, head: str = "", **options) -> tuple[Supervisor, MemorySink, ScriptedProvider]:  # type: ignore[no-untyped-def]
    plan = make_plan(tmp_path, agents, head)
    sink = MemorySink()
    provider = ScriptedProvider(script)
    sup = Supervisor(plan, store=None, log=EventLog(sink, "s1"), providers={"sim": provider}, **options)
    return sup, sink, provider


async def run_to_end(sup: Supervisor, timeout: float = 10) -> None:
    await sup.start()
    async with asyncio.timeout(timeout):
        await sup.wait()
    await sup.finish()


async def test_an_agent_runs_its_tools_and_finishes(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, writer_script)
    await run_to_end(sup)
    agent = sup.state.agents["a"]
    assert agent.outcome == "done" and agent.turn == 2 and agent.summary == "Done: note.md written."
    assert [a.path for a in agent.artifacts] == ["a/note.md"]
    assert (tmp_path / "out" / "s1" / "a" / "note.md").read_text() == "# hi\n"
    assert sink.kinds("a")[:3] == ["agent_queued", "agent_status", "turn_started"]
    assert sink.events[-1].kind == "session_ended" and sink.events[-1].status == "done"
    second = provider.requests[1].messages
    assert [m.role for m in second] == ["user", "assistant", "user"]
    result = second[2].parts[0]
    assert isinstance(result, ToolResultPart) and result.ok and "note.md" in result.output
    assert agent.cost_usd > 0 and agent.tokens.input == 200


async def test_the_conversation_rebuilds_from_events_alone(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, hanging_script)
    await sup.start()
    await until(lambda: sink.kinds("a").count("text") >= 1)
    sup.handle(cmd.Reprompt(agent="a", text="wrap it up"))
    await sup.wait()
    live = provider.requests[-1].messages
    assert rebuild(sink.events, "a").request_messages()[: len(live)] == live
    assert "[supervisor] wrap it up" in live[-1].parts[-1].text  # type: ignore[union-attr]
    await sup.finish()


async def test_kill_stops_at_once_and_nothing_follows(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, hanging_script)
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming")
    sup.handle(cmd.Kill(agent="a"))
    async with asyncio.timeout(1):
        await until(lambda: sup.state.agents["a"].status == "killed")
    count = len(sink.of("a"))
    await asyncio.sleep(0.1)
    assert len(sink.of("a")) == count and sink.of("a")[-1].kind == "agent_finished"
    assert provider.closed_streams == 1
    with pytest.raises(CommandError, match="already finished"):
        sup.handle(cmd.Kill(agent="a"))
    await sup.finish()


async def test_reprompt_reaches_the_next_request(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, hanging_script)
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming")
    sup.handle(cmd.Reprompt(agent="a", text="Use the CSV instead."))
    await until(lambda: sup.state.agents["a"].finished)
    assert "[supervisor] Use the CSV instead." in provider.requests[-1].messages[-1].text
    assert provider.requests[-1].messages[-2].role == "assistant"
    await sup.finish()


async def test_pause_waits_at_the_next_safe_point_and_resume_goes_on(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, writer_script)
    await sup.start()
    sup.handle(cmd.Pause(agent="a"))
    await until(lambda: sup.state.agents["a"].status == "paused")
    await asyncio.sleep(0.05)
    assert provider.requests == []
    with pytest.raises(CommandError, match="already paused"):
        sup.handle(cmd.Pause(agent="a"))
    sup.handle(cmd.Resume(agent="a"))
    await sup.wait()
    assert sup.state.agents["a"].outcome == "done"
    await sup.finish()


async def test_stop_all_pauses_everyone_and_resume_all_brings_them_back(tmp_path: Path) -> None:
    two = ONE_AGENT + ONE_AGENT.replace('name = "a"', 'name = "b"')
    sup, sink, provider = supervisor(tmp_path, writer_script, two)
    await sup.start()
    sup.handle(cmd.StopAll())
    await until(lambda: all(a.status == "paused" for a in sup.state.agents.values()))
    assert set(sup.state.stopped) == {"a", "b"}
    sup.handle(cmd.ResumeAll())
    await sup.wait()
    assert [a.outcome for a in sup.state.agents.values()] == ["done", "done"]
    await sup.finish()


async def test_restart_begins_a_fresh_conversation(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, hanging_script)
    await sup.start()
    await until(lambda: len(provider.requests) == 1)
    sup.handle(cmd.Restart(agent="a"))
    await until(lambda: len(provider.requests) == 2)
    assert len(provider.requests[1].messages) == 1
    sup.handle(cmd.Kill(agent="a"))
    await sup.wait()
    await sup.finish()


@pytest.mark.parametrize(
    ("policy", "headless", "auto_yes", "ran"),
    [("auto", False, False, True), ("deny", False, False, False), ("ask", True, False, False), ("ask", True, True, True)],
)
async def test_tool_policies(tmp_path: Path, policy: str, headless: bool, auto_yes: bool, ran: bool) -> None:
    agents = ONE_AGENT + f'policy = {{ write_file = "{policy}" }}\n'
    sup, sink, provider = supervisor(tmp_path, writer_script, agents, headless=headless, auto_yes=auto_yes)
    await run_to_end(sup)
    assert (tmp_path / "out" / "s1" / "a" / "note.md").exists() == ran
    result = sink.of("a", "tool_result")[0]
    assert result.ok == ran


async def test_ask_waits_for_the_supervisor_and_always_allows(tmp_path: Path) -> None:
    def script(request: ModelRequest) -> list[Step]:
        n = turns(request)
        if n < 2:
            return reply("", ("write_file", {"path": f"n{n}.md", "content": "x"}))
        return reply("done")

    agents = ONE_AGENT + 'policy = { write_file = "ask" }\n'
    sup, sink, provider = supervisor(tmp_path, script, agents)
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "awaiting_approval")
    call_id = sup.state.agents["a"].pending[0].call_id
    sup.handle(cmd.Approve(agent="a", call_id=call_id, always=True))
    await sup.wait()
    assert len(sink.of("a", "approval_requested")) == 1
    assert [e.ok for e in sink.of("a", "tool_result")] == [True, True]
    await sup.finish()


async def test_budget_stops_before_the_call_that_would_overspend(tmp_path: Path) -> None:
    def script(request: ModelRequest) -> list[Step]:
        return reply("more", ("list_files", {"path": "."}), usage=Usage(input_tokens=3000, output_tokens=500))

    agents = ONE_AGENT + "budget = { tokens = 8000 }\nmax_tokens = 1000\n"
    sup, sink, provider = supervisor(tmp_path, script, agents)
    await run_to_end(sup)
    agent = sup.state.agents["a"]
    assert agent.outcome == "over_budget" and "over_budget" in agent.flags
    assert agent.tokens.total <= 8000 and len(provider.requests) == 2


async def test_a_failed_dependency_skips_its_dependants(tmp_path: Path) -> None:
    def script(request: ModelRequest) -> list[Step]:
        if request.agent == "a":
            return [ProviderFailure("bad_request", "no such model", retryable=False)]
        return writer_script(request)

    agents = ONE_AGENT + ONE_AGENT.replace('name = "a"', 'name = "b"') + 'after = ["a"]\n'
    agents += ONE_AGENT.replace('name = "a"', 'name = "c"') + 'after = ["b"]\n'
    sup, sink, provider = supervisor(tmp_path, script, agents)
    await run_to_end(sup)
    outcomes = {n: a.outcome for n, a in sup.state.agents.items()}
    assert outcomes == {"a": "failed", "b": "skipped", "c": "skipped"}
    assert sup.state.agents["b"].summary == "dependency a ended failed"
    assert sink.events[-1].status == "failed"


async def test_dependants_get_the_artifacts_they_wait_for(tmp_path: Path) -> None:
    agents = ONE_AGENT + ONE_AGENT.replace('name = "a"', 'name = "b"') + 'after = ["a"]\n'
    sup, sink, provider = supervisor(tmp_path, writer_script, agents)
    await run_to_end(sup)
    first_of_b = next(r for r in provider.requests if r.agent == "b")
    assert "out:a/note.md (5 bytes)" in first_of_b.messages[0].text
    fresh = [e for e in sink.of("b", "agent_status") if e.inputs]
    assert [e.inputs for e in fresh] == [["a/note.md"]] and fresh[0].status == "starting"
    assert not any(e.inputs for e in sink.of("a", "agent_status"))


async def test_retryable_errors_retry_and_count_billed_usage_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tokenmaxx.agents.loop.backoff_delay", lambda attempt, after: 0.01)
    attempts: list[int] = []

    def script(request: ModelRequest) -> list[Step]:
        attempts.append(1)
        if len(attempts) == 1:
            return [*reply("partial ")[:1], ProviderFailure("connection", "dropped", retryable=True, billed=Usage(input_tokens=100))]
        return reply("whole answer")

    sup, sink, provider = supervisor(tmp_path, script)
    await run_to_end(sup)
    usages = sink.of("a", "usage")
    assert [u.estimated for u in usages] == [True, False]
    assert usages[0].output_tokens == 2 and sup.state.agents["a"].tokens.input == 200
    assert provider.requests[1].messages == provider.requests[0].messages
    assert rebuild(sink.events, "a").request_messages() == (*provider.requests[1].messages, provider.requests[1].messages[0].__class__("assistant", (TextPart("whole answer"),)))


async def test_the_watchdog_flags_and_headless_remedies_a_stall(tmp_path: Path) -> None:
    now = [0.0]
    sup, sink, provider = supervisor(tmp_path, hanging_script, head="stall_after = 5", headless=True, clock=lambda: now[0])
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming")
    now[0] = 6.0
    sup.watchdog.check(sup.state)
    await until(lambda: sup.state.agents["a"].finished)
    flags = sink.of("a", "agent_flagged")
    assert [f.flag for f in flags] == ["stalled"]
    actions = sink.of("a", "supervisor_action")
    assert [(a.action, a.by) for a in actions] == [("reprompt", "watchdog")]
    assert sup.state.agents["a"].outcome == "done"
    await sup.finish()


async def test_the_watchdog_flags_looping_and_burning(tmp_path: Path) -> None:
    def script(request: ModelRequest) -> list[Step]:
        if turns(request) < 4:
            return reply("again", ("list_files", {"path": "."}), usage=Usage(input_tokens=10, output_tokens=5))
        return reply("x" * 10, usage=Usage(input_tokens=50_000, output_tokens=100))

    sup, sink, provider = supervisor(tmp_path, script, head="loop_repeats = 3\nburn_tokens = 40000")
    await run_to_end(sup)
    assert [f.flag for f in sink.of("a", "agent_flagged")] == ["looping", "burning"]


async def test_commands_that_do_not_apply_say_why(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, writer_script)
    await run_to_end(sup)
    with pytest.raises(CommandError, match="no agent called 'zz'"):
        sup.handle(cmd.Kill(agent="zz"))
    with pytest.raises(CommandError, match="not paused"):
        sup.handle(cmd.Resume(agent="a"))
    with pytest.raises(CommandError, match="no deliverable"):
        sup.handle(cmd.Accept(agent="a", path="nope.md"))
    with pytest.raises(CommandError, match="not waiting for approval"):
        sup.handle(cmd.Approve(agent="a", call_id="c9"))
    sup.handle(cmd.Accept(agent="a", path="a/note.md"))
    assert sup.state.accepted == 1


async def test_restarting_a_failed_dependency_brings_back_what_it_skipped(tmp_path: Path) -> None:
    failures = [1]

    def script(request: ModelRequest) -> list[Step]:
        if request.agent == "a" and failures:
            failures.pop()
            return [ProviderFailure("bad_request", "no such model", retryable=False)]
        return writer_script(request)

    agents = ONE_AGENT + ONE_AGENT.replace('name = "a"', 'name = "b"') + 'after = ["a"]\n'
    sup, sink, provider = supervisor(tmp_path, script, agents)
    await sup.start()
    await sup.wait()
    assert sup.state.agents["b"].outcome == "skipped"
    sup.handle(cmd.Restart(agent="a"))
    await until(lambda: sup.state.agents["b"].outcome == "done")
    assert sup.state.agents["a"].outcome == "done"
    await sup.wait()
    await sup.finish()


async def test_a_reply_cut_short_by_the_supervisor_is_billed_as_an_estimate(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, hanging_script)
    await sup.start()
    await until(lambda: sup.state.agents["a"].live_output_estimate > 0)
    sup.handle(cmd.Kill(agent="a"))
    await sup.wait()
    (usage,) = sink.of("a", "usage")
    assert usage.estimated and usage.input_tokens > 0 and usage.output_tokens == 2  # "thinking" streamed: 8 characters
    assert sink.of("a")[-1].kind == "agent_finished"
    await sup.finish()


def test_text_events_thin_out_only_for_fleets_past_a_hundred_running_agents() -> None:
    from tokenmaxx.agents.loop import TEXT_FLUSH_S, text_flush_interval

    assert text_flush_interval(0) == text_flush_interval(100) == TEXT_FLUSH_S
    assert text_flush_interval(200) == pytest.approx(0.1) and text_flush_interval(500) == pytest.approx(0.25)
    assert text_flush_interval(5000) == pytest.approx(0.25)

