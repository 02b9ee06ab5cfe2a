"""Loop mode: an agent restarts on the same task, a fresh conversation each time, for N times or until a spend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.plan import parse_plan
from tokenmaxx.agents.providers.base import ModelRequest, ProviderFailure, TextPart, Usage
from tokenmaxx.agents.reload import PlanReloader
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import EventLog
from tests.agents.scripted import Hang, MemorySink, ScriptedProvider, Step, make_plan, reply, until

WAIT_S = 10.0
PRICED = '[prices."test-model"]\ninput = 1000.0\noutput = 0.0\n'  # 100 input tokens cost $0.10
REPLY_USAGE = Usage(input_tokens=100, output_tokens=20)
ITERATION_USD = 0.2  # two replies


def looper(loop: str, task: str = "Count the commits.", model: str = "test-model") -> str:
    return f'\n[[agents]]\nname = "a"\nrole = "chart-builder"\nmodel = "{model}"\ntask = "{task}"\nloop = {loop}\n'


def two_turns(request: ModelRequest) -> list[Step]:
    """One tool call, then a final answer: an iteration of two priced replies."""
    if len(request.messages) == 1:
        return reply("Listing.", ("list_files", {"path": "."}), usage=REPLY_USAGE)
    return reply("Done.", usage=REPLY_USAGE)


def held(request: ModelRequest) -> list[Step]:
    """Streams until a supervisor message arrives, then finishes: every iteration waits for the test."""
    said = [p.text for m in request.messages for p in m.parts if isinstance(p, TextPart)]
    if any("[supervisor]" in text for text in said):
        return reply("Done.", usage=REPLY_USAGE)
    return [*reply("working ")[:1], Hang()]


def supervisor(tmp_path: Path, agents: str, script=two_turns, **provider: object) -> tuple[Supervisor, MemorySink, ScriptedProvider]:  # type: ignore[no-untyped-def]
    sink = MemorySink()
    scripted = ScriptedProvider(script, price_as=None, **provider)  # type: ignore[arg-type]
    sup = Supervisor(make_plan(tmp_path, agents, PRICED), store=None, log=EventLog(sink, "s1"), providers={"sim": scripted}, watch_out=False)
    return sup, sink, scripted


async def run_to_end(sup: Supervisor) -> None:
    await sup.start()
    async with asyncio.timeout(WAIT_S):
        await sup.wait()
    await sup.finish()


def iterations_started(sink: MemorySink) -> list[int | None]:
    return [e.iteration for e in sink.of("a", "agent_status") if e.status == "starting" and e.reason == "fresh start"]


def first_requests(provider: ScriptedProvider) -> list[ModelRequest]:
    return [r for r in provider.requests if len(r.messages) == 1]


async def test_times_runs_exactly_that_many_iterations_each_from_a_fresh_conversation(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, looper("{ times = 3 }"))
    await run_to_end(sup)
    a = sup.state.agents["a"]
    assert iterations_started(sink) == [1, 2, 3] and (a.iteration, a.loop_times) == (3, 3)
    assert len(provider.requests) == 6 and len(first_requests(provider)) == 3
    assert all(r.messages[0].text == "Count the commits." for r in first_requests(provider))
    assert [len(r.messages) for r in provider.requests] == [1, 3] * 3
    assert [e.outcome for e in sink.of("a", "agent_finished")] == ["done"]
    assert a.iteration_costs == pytest.approx((ITERATION_USD, ITERATION_USD))
    assert a.costs_by_iteration == pytest.approx((ITERATION_USD,) * 3)
    assert a.cost_usd == pytest.approx(3 * ITERATION_USD) and a.turn == 6


@pytest.mark.parametrize(("until_usd", "iterations"), [(0.7, 3), (0.5, 2), (0.3, 1), (0.1, 1)])
async def test_until_usd_never_starts_an_iteration_that_could_pass_it(tmp_path: Path, until_usd: float, iterations: int) -> None:
    sup, sink, provider = supervisor(tmp_path, looper(f"{{ until_usd = {until_usd} }}"))
    await run_to_end(sup)
    a = sup.state.agents["a"]
    assert iterations_started(sink) == list(range(1, iterations + 1)) and a.outcome == "done"
    assert a.cost_usd == pytest.approx(iterations * ITERATION_USD) and a.loop_times == 0
    assert len(a.iteration_costs) == iterations - 1
    if iterations > 1:
        assert a.cost_usd <= until_usd


async def test_until_usd_judges_the_next_iteration_by_the_dearest_so_far(tmp_path: Path) -> None:
    def script(request: ModelRequest) -> list[Step]:
        dear = len(first_requests(provider)) == 1
        calls = sum(1 for m in request.messages if m.role == "assistant")
        if dear and calls < 2:
            return reply("more", ("list_files", {"path": "."}), usage=REPLY_USAGE)
        return two_turns(request)

    sup, sink, provider = supervisor(tmp_path, looper("{ until_usd = 0.75 }"), script)
    await run_to_end(sup)
    a = sup.state.agents["a"]
    assert iterations_started(sink) == [1, 2] and a.iteration_costs == pytest.approx((0.3,))
    assert a.cost_usd == pytest.approx(0.5)


async def test_times_and_until_usd_stop_at_whichever_comes_first(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, looper("{ times = 5, until_usd = 0.5 }"))
    await run_to_end(sup)
    assert iterations_started(sink) == [1, 2]


async def test_until_usd_with_an_unknown_price_runs_once(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, looper("{ until_usd = 1.0 }", model="mystery-model"), price_provider_id=None)
    await run_to_end(sup)
    a = sup.state.agents["a"]
    assert iterations_started(sink) == [1] and a.unknown_price_tokens > 0 and a.outcome == "done"


async def test_a_failed_iteration_ends_the_loop(tmp_path: Path) -> None:
    def script(request: ModelRequest) -> list[Step]:
        if len(first_requests(provider)) == 2:
            return [ProviderFailure("bad_request", "no such model", retryable=False)]
        return two_turns(request)

    sup, sink, provider = supervisor(tmp_path, looper("{ times = 4 }"), script)
    await run_to_end(sup)
    assert iterations_started(sink) == [1, 2] and sup.state.agents["a"].outcome == "failed"


async def test_a_kill_mid_loop_ends_it(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, looper("{ times = 4 }"), held)
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming")
    sup.handle(cmd.Reprompt(agent="a", text="next"))
    await until(lambda: iterations_started(sink) == [1, 2] and sup.state.agents["a"].status == "streaming", WAIT_S)
    sup.handle(cmd.Kill(agent="a"))
    async with asyncio.timeout(WAIT_S):
        await sup.wait()
    await sup.finish()
    a = sup.state.agents["a"]
    assert (a.outcome, a.iteration, iterations_started(sink)) == ("killed", 2, [1, 2])


async def test_a_looping_agent_removed_from_the_plan_ends_with_its_iteration(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, looper("{ times = 4 }"), held)
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming")
    other = '\n[[agents]]\nname = "b"\nrole = "critic"\ntask = "Critique."\n'
    loaded = PlanReloader(sup).apply(parse_plan(f'name = "t"\nworkdir = "project"\nout = "out"\n{other}', sup.plan.path))
    assert isinstance(loaded, ev.PlanLoaded) and loaded.removed_still_running == ["a"]
    sup.handle(cmd.Reprompt(agent="a", text="wrap up"))
    await until(lambda: sup.state.agents["a"].finished, WAIT_S)
    a = sup.state.agents["a"]
    assert (a.outcome, a.iteration, iterations_started(sink)) == ("done", 1, [1])
    await until(lambda: sup.state.agents["b"].status == "streaming", WAIT_S)
    sup.handle(cmd.Reprompt(agent="b", text="wrap up"))
    async with asyncio.timeout(WAIT_S):
        await sup.wait()
    await sup.finish()


async def test_a_looping_agent_changed_in_the_plan_takes_the_change_at_its_next_iteration(tmp_path: Path) -> None:
    sup, sink, provider = supervisor(tmp_path, looper("{ times = 2 }"), held)
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming")
    text = f'name = "t"\nworkdir = "project"\nout = "out"\n{PRICED}{looper("{ times = 2 }", task="Count the tags.")}'
    loaded = PlanReloader(sup).apply(parse_plan(text, sup.plan.path))
    assert isinstance(loaded, ev.PlanLoaded) and loaded.changed_on_restart == ["a"]
    assert sup.state.agents["a"].change_on_restart
    sup.handle(cmd.Reprompt(agent="a", text="next"))
    await until(lambda: len(first_requests(provider)) == 2, WAIT_S)
    assert [r.messages[0].text for r in first_requests(provider)] == ["Count the commits.", "Count the tags."]
    a = sup.state.agents["a"]
    assert (a.task, a.change_on_restart, a.iteration) == ("Count the tags.", False, 2)
    events = sink.of("a")
    requeued = [i for i, e in enumerate(events) if e.kind == "agent_queued"][1]
    second = next(i for i, e in enumerate(events) if e.kind == "agent_status" and e.iteration == 2)
    assert requeued < second
    sup.handle(cmd.Reprompt(agent="a", text="done"))
    async with asyncio.timeout(WAIT_S):
        await sup.wait()
    await sup.finish()
    assert iterations_started(sink) == [1, 2]


def test_each_iteration_keeps_its_own_cost_in_the_state() -> None:
    from tokenmaxx.sessions.state import reduce_all

    def spent(usd: float) -> ev.UsageReported:
        return ev.UsageReported(agent="a", provider="sim", model="m", input_tokens=10, cost_usd=usd)

    def starting(iteration: int) -> ev.AgentStatusChanged:
        return ev.AgentStatusChanged(agent="a", status="starting", iteration=iteration)

    state = reduce_all([starting(1), spent(0.5), spent(0.25), starting(2), spent(1.0), starting(3)])
    assert state.agents["a"].iteration_costs == (0.75, 1.0) and state.agents["a"].costs_by_iteration == (0.75, 1.0, 0.0)
    state = reduce_all([spent(0.125), ev.AgentFinished(agent="a", outcome="done")], state)
    assert state.agents["a"].costs_by_iteration == (0.75, 1.0, 0.125) and state.agents["a"].iteration == 3
