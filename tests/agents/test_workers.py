"""Own-loop agents in worker processes: the record they leave is the one the fleet's own process leaves, and every decision stays with the supervisor."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.plan import AUTO_WORKERS_ABOVE, Plan
from tokenmaxx.agents.pricing import price_usage
from tokenmaxx.agents.providers.base import Usage
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import FleetState
from tokenmaxx.sessions.store import Store
from tests.agents.scripted import make_plan, until
from tests.fakes import Call, Recorded, Reply, ServerUsage, Stream, openai_server
from tests.fakes.openai_server import OpenAIFakeServer
from tests.processes import alive

KEY = "sk-test-worker-key"
MODEL = "gpt-4o"


@pytest.fixture
def server() -> Iterator[OpenAIFakeServer]:
    fake = OpenAIFakeServer()
    with fake:
        yield fake
    assert fake.errors == []


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MODEL_KEY", KEY)


def remote_plan(tmp_path: Path, server: OpenAIFakeServer, agents: int, *, workers: int = 2, head: str = "", each: str = "") -> Plan:
    provider = f'[providers.remote]\nkind = "openai"\nbase_url = "{server.base_url}"\napi_key_env = "TEST_MODEL_KEY"\n'
    table = "".join(
        f'[[agents]]\nname = "a{i}"\nrole = "chart-builder"\nprovider = "remote"\nmodel = "{MODEL}"\ntask = "Write notes."\n{each}\n'
        for i in range(agents)
    )
    return make_plan(tmp_path, table, f"workers = {workers}\nmax_parallel = 20\n{head}\n{provider}")


async def started(tmp_path: Path, plan: Plan, *, headless: bool = False) -> tuple[Supervisor, Store]:
    store = await Store.open(tmp_path / "s.db")
    sup = Supervisor.create(plan, store, headless=headless)
    await sup.start()
    return sup, store


async def ended(sup: Supervisor, store: Store, timeout: float = 30) -> FleetState:
    async with asyncio.timeout(timeout):
        await sup.wait()
    await sup.finish()
    await store.flush()
    await store.close()
    return sup.state


def slowed(stream: Stream, gap_s: float) -> Stream:
    return Stream(stream.frames, gap_s=gap_s)


# the same record -------------------------------------------------------------------------------


SIM_AGENTS = "".join(
    f'[[agents]]\nname = "s{i}"\nrole = "chart-builder"\nprovider = "fast"\ntask = "Chart the history."\n' for i in range(6)
)


async def sim_run(tmp_path: Path, workers: int) -> tuple[FleetState, list[ev.Event], list[int]]:
    tmp_path.mkdir()
    head = f'workers = {workers}\nmax_parallel = 20\n[providers.fast]\nkind = "sim"\nspeed = 200\n'
    sup, store = await started(tmp_path, make_plan(tmp_path, SIM_AGENTS, head), headless=True)
    pids: list[int] = []
    if sup.workers is not None:
        await until(lambda: all(a.turn >= 1 for a in sup.state.agents.values()), timeout=30)
        pids = sup.workers.pids
        assert sorted(len(link.runners) for link in sup.workers.links) == [3, 3]
    events = []
    state = await ended(sup, store)
    async with await Store.open(tmp_path / "s.db") as reader:
        events = await reader.events(sup.session_id)
    return state, events, pids


def per_agent(state: FleetState, events: list[ev.Event]) -> dict[str, tuple[object, ...]]:
    """What each agent did, leaving out when: its outcome, text, tools, artifacts and tokens."""
    record = {}
    for name, agent in state.agents.items():
        mine = [e for e in events if getattr(e, "agent", None) == name]
        record[name] = (
            agent.outcome,
            "".join(e.text for e in mine if isinstance(e, ev.Text)),
            [(e.tool, e.args) for e in mine if isinstance(e, ev.ToolCall)],
            [(e.ok, e.output) for e in mine if isinstance(e, ev.ToolResult)],
            sorted((a.path, a.sha256) for a in agent.artifacts),
            agent.tokens.total,
            round(agent.cost_usd, 10),
        )
    return record


async def test_a_fleet_in_two_worker_processes_records_what_it_records_in_one(tmp_path: Path) -> None:
    alone, alone_events, _ = await sim_run(tmp_path / "one", workers=1)
    spread, spread_events, pids = await sim_run(tmp_path / "two", workers=2)
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert per_agent(spread, spread_events) == per_agent(alone, alone_events)
    assert all(record[1] and record[2] and record[5] for record in per_agent(spread, spread_events).values())
    await until(lambda: not any(alive(pid) for pid in pids))


async def test_text_tools_and_prices_cross_the_process_boundary(tmp_path: Path, server: OpenAIFakeServer) -> None:
    first, second = ServerUsage(100, 40), ServerUsage(300, 20, cache_read=100)
    server.enqueue(
        openai_server.tool_reply(Call("c1", "write_file", {"path": "notes.md", "content": "# Notes"}), usage=first),
        openai_server.text_reply("Wrote notes.md.", chunks=4, usage=second),
    )
    sup, store = await started(tmp_path, remote_plan(tmp_path, server, 1, each='policy = { write_file = "ask" }'))
    await until(lambda: sup.state.agents["a0"].status == "awaiting_approval", timeout=20)
    assert sup.workers is not None and sup.workers.pids
    sup.handle(cmd.Approve(agent="a0", call_id=sup.state.agents["a0"].pending[0].call_id))
    state = await ended(sup, store)
    agent = state.agents["a0"]
    assert agent.outcome == "done" and [a.path for a in agent.artifacts] == ["a0/notes.md"]
    assert (sup.out_root / "a0" / "notes.md").read_text() == "# Notes"
    usages = [Usage(100, 40), Usage(400, 20, cache_read_tokens=100)]
    assert round(agent.cost_usd, 10) == round(sum(price_usage(u, MODEL, "openai") or 0.0 for u in usages), 10)
    assert agent.summary == "Wrote notes.md."


async def test_the_budget_is_the_supervisors_across_processes(tmp_path: Path, server: OpenAIFakeServer) -> None:
    tool = Call("c", "list_files", {"path": "."})
    server.enqueue(*(openai_server.tool_reply(Call(f"c{i}", tool.name, tool.args), usage=ServerUsage(3000, 500)) for i in range(3)))
    plan = remote_plan(tmp_path, server, 1, each="budget = { tokens = 8000 }\nmax_tokens = 1000")
    sup, store = await started(tmp_path, plan, headless=True)
    state = await ended(sup, store)
    assert state.agents["a0"].outcome == "over_budget" and len(server.requests) == 2


# stopping a turn in a worker ----------------------------------------------------------------


async def test_a_kill_mid_stream_ends_the_turn_in_the_worker_and_bills_what_streamed(tmp_path: Path, server: OpenAIFakeServer) -> None:
    server.enqueue(openai_server.slow(pieces=400, gap_s=0.02))
    sup, store = await started(tmp_path, remote_plan(tmp_path, server, 1))
    await until(lambda: "tick" in sup.state.agents["a0"].partial_line + "".join(sup.state.agents["a0"].tail), timeout=20)
    sup.handle(cmd.Kill(agent="a0"))
    assert await asyncio.to_thread(server.wait_for_disconnect, 5) is not None
    state = await ended(sup, store)
    assert state.agents["a0"].outcome == "killed"
    async with await Store.open(tmp_path / "s.db") as reader:
        kinds = [e.kind for e in await reader.events(sup.session_id, agent="a0")]
    assert kinds.index("usage") < kinds.index("agent_finished")


async def test_a_reprompt_mid_stream_is_heard_by_the_agent_in_its_worker(tmp_path: Path, server: OpenAIFakeServer) -> None:
    server.enqueue(openai_server.slow(pieces=400, gap_s=0.02), openai_server.text_reply("Changed course."))
    sup, store = await started(tmp_path, remote_plan(tmp_path, server, 1))
    await until(lambda: "tick" in sup.state.agents["a0"].partial_line + "".join(sup.state.agents["a0"].tail), timeout=20)
    sup.handle(cmd.Reprompt(agent="a0", text="Use a bar chart instead."))
    state = await ended(sup, store)
    assert state.agents["a0"].outcome == "done" and state.agents["a0"].summary == "Changed course."
    assert "Use a bar chart instead." in str(server.requests[1].body["messages"])


async def test_a_kill_while_paused_at_a_safe_point_in_a_worker(tmp_path: Path, server: OpenAIFakeServer) -> None:
    call = openai_server.tool_reply(Call("c1", "list_files", {"path": "."}))
    server.enqueue(slowed(call, 0.2))
    sup, store = await started(tmp_path, remote_plan(tmp_path, server, 1))
    await until(lambda: sup.state.agents["a0"].status == "streaming", timeout=20)
    sup.handle(cmd.Pause(agent="a0"))
    await until(lambda: sup.state.agents["a0"].status == "paused", timeout=20)
    sup.handle(cmd.Kill(agent="a0"))
    state = await ended(sup, store)
    assert state.agents["a0"].outcome == "killed" and len(server.requests) == 1


class TimedServer(OpenAIFakeServer):
    """Notes when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[float] = []

    def _next(self, recorded: Recorded) -> Reply:
        self.arrivals.append(time.monotonic())
        return super()._next(recorded)


async def test_provider_slots_are_shared_by_every_worker(tmp_path: Path) -> None:
    with TimedServer() as server:
        server.enqueue(*(openai_server.slow(pieces=20, gap_s=0.03) for _ in range(4)))
        plan = remote_plan(tmp_path, server, 4)
        plan.providers["remote"] = plan.providers["remote"].model_copy(update={"max_concurrent": 1})
        sup, store = await started(tmp_path, plan, headless=True)
        state = await ended(sup, store)
    assert all(a.outcome == "done" for a in state.agents.values()) and len(server.arrivals) == 4
    gaps = [later - earlier for earlier, later in zip(server.arrivals, server.arrivals[1:])]
    assert min(gaps) >= 0.5, gaps  # each reply streams for 0.6 s, and the next waits for its slot


# a worker that dies ---------------------------------------------------------------------------


async def test_a_killed_worker_fails_its_agents_and_a_restart_runs_them_again(tmp_path: Path, server: OpenAIFakeServer) -> None:
    server.enqueue(*(openai_server.slow(pieces=100, gap_s=0.03) for _ in range(4)))
    sup, store = await started(tmp_path, remote_plan(tmp_path, server, 4))
    await until(lambda: all("tick" in a.partial_line + "".join(a.tail) for a in sup.state.agents.values()), timeout=20)
    assert sup.workers is not None
    victim = sup.workers.links[0]
    doomed = {sup.state.agents[name].name for name in _agents_of(sup, victim)}
    os.kill(victim.process.pid, signal.SIGKILL)
    await until(lambda: all(sup.state.agents[name].finished for name in doomed), timeout=10)
    for name in doomed:
        agent = sup.state.agents[name]
        assert agent.outcome == "failed" and "was ended by SIGKILL" in agent.summary and "restart" in agent.summary
    server.enqueue(openai_server.text_reply("Back again."))
    again = sorted(doomed)[0]
    sup.handle(cmd.Restart(agent=again))
    state = await ended(sup, store)
    assert state.agents[again].outcome == "done" and state.agents[again].summary == "Back again."
    assert all(state.agents[name].outcome == "done" for name in state.agents if name not in doomed)
    async with await Store.open(tmp_path / "s.db") as reader:
        for name in doomed:
            mine = await reader.events(sup.session_id, agent=name)
            cut = next(i for i, e in enumerate(mine) if isinstance(e, ev.AgentFinished))
            [billed] = [e for e in mine[:cut] if isinstance(e, ev.UsageReported)]
            streamed = sum(len(e.text) for e in mine[:cut] if isinstance(e, ev.Text))
            assert billed.estimated and billed.output_tokens == -(-streamed // 4) > 0  # what streamed is billed, as for a cut reply


def _agents_of(sup: Supervisor, link: object) -> list[str]:
    return [name for name, run in sup.runs.items() if getattr(run.runner, "link", None) is link]


def test_workers_die_with_a_fleet_killed_outright(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from tokenmaxx.agents.plan import parse_plan
        from tokenmaxx.agents.supervisor import Supervisor
        from tokenmaxx.sessions.store import Store

        async def main():
            folder = Path(sys.argv[1])
            (folder / "project").mkdir()
            text = 'name = "k"\\nworkdir = "project"\\nout = "out"\\nworkers = 2\\n[providers.slow]\\nkind = "sim"\\nspeed = 1\\n'
            text += "".join(f'[[agents]]\\nname = "a{i}"\\nrole = "chart-builder"\\nprovider = "slow"\\ntask = "t"\\n' for i in range(2))
            plan = parse_plan(text, folder / "fleet.toml")
            store = await Store.open(folder / "s.db")
            sup = Supervisor.create(plan, store, headless=True)
            await sup.start()
            while not all(a.turn for a in sup.state.agents.values()):
                await asyncio.sleep(0.05)
            print(*sup.workers.pids, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    fleet = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert fleet.stdout is not None
        pids = [int(pid) for pid in fleet.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(pid) for pid in pids)
    finally:
        fleet.kill()
        fleet.communicate()
    asyncio.run(until(lambda: not any(alive(pid) for pid in pids), timeout=5))


# how many ----------------------------------------------------------------------------------


def many(tmp_path: Path, count: int, provider: str, head: str = "max_parallel = 1000", each: str = "") -> Plan:
    providers = '[providers.remote]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n[providers.fast]\nkind = "sim"\n'
    table = "".join(f'[[agents]]\nname = "a{i}"\nrole = "chart-builder"\nprovider = "{provider}"\nmodel = "gpt-4o"\ntask = "t"\n{each}' for i in range(count))
    return make_plan(tmp_path, table, f"{head}\n{providers}")


def test_auto_uses_a_process_per_core_only_for_a_fleet_one_process_cannot_carry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert many(tmp_path, AUTO_WORKERS_ABOVE, "remote").worker_processes() == 1
    assert many(tmp_path, AUTO_WORKERS_ABOVE + 1, "remote").worker_processes() == 4
    assert many(tmp_path, AUTO_WORKERS_ABOVE + 1, "fast").worker_processes() == 4
    assert many(tmp_path, AUTO_WORKERS_ABOVE + 1, "remote", "max_parallel = 10").worker_processes() == 1
    assert many(tmp_path, AUTO_WORKERS_ABOVE + 1, "remote", each='harness = "codex"\n').worker_processes() == 1
    assert many(tmp_path, 3, "fast", "workers = 3").worker_processes() == 3
    assert many(tmp_path, AUTO_WORKERS_ABOVE + 1, "remote", "max_parallel = 1000\nworkers = 1").worker_processes() == 1


async def test_a_finished_agent_reprompted_goes_on_in_its_conversation(tmp_path: Path, server: OpenAIFakeServer) -> None:
    server.enqueue(openai_server.text_reply("First answer."), openai_server.text_reply("Second answer."))
    sup, store = await started(tmp_path, remote_plan(tmp_path, server, 1))
    await until(lambda: sup.state.agents["a0"].finished, timeout=20)
    sup.handle(cmd.Reprompt(agent="a0", text="Now say more."))
    state = await ended(sup, store)
    assert state.agents["a0"].outcome == "done" and state.agents["a0"].summary == "Second answer."
    said = str(server.requests[1].body["messages"])
    assert "First answer." in said and "Now say more." in said


async def test_a_kill_right_after_a_reprompt_ends_the_agent_with_nothing_recorded_after(tmp_path: Path, server: OpenAIFakeServer) -> None:
    server.enqueue(openai_server.slow(pieces=400, gap_s=0.02), openai_server.slow(pieces=400, gap_s=0.02))
    sup, store = await started(tmp_path, remote_plan(tmp_path, server, 1))
    await until(lambda: "tick" in sup.state.agents["a0"].partial_line + "".join(sup.state.agents["a0"].tail), timeout=20)
    sup.handle(cmd.Reprompt(agent="a0", text="Stop that."))
    sup.handle(cmd.Kill(agent="a0"))
    state = await ended(sup, store)
    assert state.agents["a0"].outcome == "killed"
    async with await Store.open(tmp_path / "s.db") as reader:
        kinds = [e.kind for e in await reader.events(sup.session_id, agent="a0")]
    assert kinds[-1] == "agent_finished" and kinds.count("agent_finished") == 1


async def test_tool_arguments_nested_too_deep_are_refused_and_the_worker_goes_on(tmp_path: Path, server: OpenAIFakeServer) -> None:
    deep = '{"a":' * 300 + "1" + "}" * 300
    server.enqueue(openai_server.tool_reply(Call("c1", "list_files", deep)), openai_server.text_reply("Gave up on that."))
    sup, store = await started(tmp_path, remote_plan(tmp_path, server, 1))
    state = await ended(sup, store)
    assert state.agents["a0"].outcome == "done"
    async with await Store.open(tmp_path / "s.db") as reader:
        [result] = [e for e in await reader.events(sup.session_id, agent="a0") if isinstance(e, ev.ToolResult)]
    assert not result.ok and "nested deeper than 64 levels" in result.output
