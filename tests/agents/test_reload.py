"""Hot reload against a real watched plan file: agents added, changed and removed while the fleet runs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.plan import load_plan, parse_plan
from tokenmaxx.agents.providers.base import ModelRequest, TextPart
from tokenmaxx.agents.reload import REMOVED, Slots, plan_changes
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import EventLog
from tests.agents.scripted import Hang, MemorySink, ScriptedProvider, Step, reply, until

WAIT_S = 10.0


def agent(name: str, task: str = "Write a note.", extra: str = "", role: str = "chart-builder") -> str:
    return f'\n[[agents]]\nname = "{name}"\nrole = "{role}"\ntask = "{task}"\n{extra}'


def plan_text(agents: str, head: str = "") -> str:
    return f'name = "t"\nworkdir = "project"\nout = "out"\n{head}\n{agents}'


def save(path: Path, text: str) -> None:
    """Save as editors do: write a new file beside the plan and rename it into place."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text)
    os.replace(temporary, path)


def first_text(request: ModelRequest) -> str:
    part = request.messages[0].parts[0]
    return part.text if isinstance(part, TextPart) else ""


def script(request: ModelRequest) -> list[Step]:
    """Agents whose task says "hold" stream until a supervisor message arrives; the others finish at once."""
    last = request.messages[-1]
    if "hold" in first_text(request) and not any(isinstance(p, TextPart) and "[supervisor]" in p.text for p in last.parts):
        return [*reply("working ")[:1], Hang()]
    return reply("Done.")


async def watched(tmp_path: Path, agents: str, head: str = "") -> tuple[Supervisor, MemorySink, ScriptedProvider, Path]:
    """A started supervisor on a plan file it watches."""
    (tmp_path / "project").mkdir(exist_ok=True)
    path = tmp_path / "fleet.toml"
    path.write_text(plan_text(agents, head))
    sink, provider = MemorySink(), ScriptedProvider(script)
    sup = Supervisor(load_plan(path), store=None, log=EventLog(sink, "s1"), providers={"sim": provider}, watch_plan=True)
    await sup.start()
    assert sup.plan_watch is not None
    await sup.plan_watch.ready.wait()
    return sup, sink, provider, path


def reloads(sink: MemorySink) -> list[ev.PlanLoaded]:
    return [e for e in sink.events if isinstance(e, ev.PlanLoaded) and e.reload]


def status(sup: Supervisor, name: str) -> str:
    return sup.state.agents[name].status


async def wrap_up(sup: Supervisor) -> None:
    for name, state in sup.state.agents.items():
        if state.status == "streaming":
            sup.handle(cmd.Reprompt(agent=name, text="finish now"))
    async with asyncio.timeout(WAIT_S):
        await sup.wait()
    await sup.finish()


async def test_an_added_agent_is_queued_and_starts_when_its_dependency_allows(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on"))
    await until(lambda: status(sup, "a") == "streaming")
    save(path, plan_text(agent("a", "hold on") + agent("b", extra='after = ["a"]') + agent("c")))
    await until(lambda: sup.state.agents.get("c") is not None and sup.state.agents["c"].outcome == "done", WAIT_S)
    assert status(sup, "b") == "waiting" and status(sup, "a") == "streaming"
    [loaded] = reloads(sink)
    assert loaded.agents == ["a", "b", "c"] and loaded.changed_on_restart == [] and loaded.removed_still_running == []
    assert [e.agent for e in sink.events if e.kind == "agent_queued"] == ["a", "b", "c"]
    sup.handle(cmd.Reprompt(agent="a", text="finish now"))
    await until(lambda: sup.state.agents["b"].outcome == "done", WAIT_S)
    await wrap_up(sup)
    assert sink.events[-1].status == "done"


async def test_a_changed_agent_that_has_not_started_takes_the_change(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on") + agent("b", "Old task.", 'after = ["a"]'))
    await until(lambda: status(sup, "b") == "waiting")
    changed = agent("b", "New task.", 'after = ["a"]\nmodel = "claude-haiku-4-5"', role="critic")
    save(path, plan_text(agent("a", "hold on") + changed))
    await until(lambda: sup.state.agents["b"].task == "New task.", WAIT_S)
    b = sup.state.agents["b"]
    assert (b.role, b.model, b.status, b.change_on_restart) == ("critic", "claude-haiku-4-5", "waiting", False)
    assert [e.task for e in sink.of("b", "agent_queued")] == ["Old task.", "New task."]
    assert reloads(sink)[0].changed_on_restart == []
    sup.handle(cmd.Reprompt(agent="a", text="finish now"))
    await until(lambda: sup.state.agents["b"].finished, WAIT_S)
    first_of_b = next(r for r in provider.requests if r.agent == "b")
    assert first_text(first_of_b).startswith("New task.") and first_of_b.model == "claude-haiku-4-5"
    await wrap_up(sup)


async def test_a_changed_dependency_list_is_waited_on_afresh(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on") + agent("b", extra='after = ["a"]'))
    await until(lambda: status(sup, "b") == "waiting")
    save(path, plan_text(agent("a", "hold on") + agent("b")))
    await until(lambda: sup.state.agents["b"].outcome == "done", WAIT_S)
    assert status(sup, "a") == "streaming"
    await wrap_up(sup)


async def changed_while_running(tmp_path: Path, old: str, new: str) -> tuple[Supervisor, MemorySink, ScriptedProvider, Path]:
    """A supervisor whose running agent a's task was changed in the plan from `old` to `new`."""
    sup, sink, provider, path = await watched(tmp_path, agent("a", old))
    await until(lambda: status(sup, "a") == "streaming")
    save(path, plan_text(agent("a", new)))
    await until(lambda: sup.state.agents["a"].change_on_restart, WAIT_S)
    return sup, sink, provider, path


async def test_a_changed_running_agent_keeps_running_and_takes_the_change_on_restart(tmp_path: Path) -> None:
    sup, sink, provider, path = await changed_while_running(tmp_path, "hold on, old", "hold on, new")
    [loaded] = reloads(sink)
    assert loaded.changed_on_restart == ["a"]
    a = sup.state.agents["a"]
    assert a.status == "streaming" and a.task == "hold on, old" and len(sink.of("a", "agent_queued")) == 1
    assert sup.runs["a"].spec.task == "hold on, old"
    sup.handle(cmd.Restart(agent="a"))
    await until(lambda: len(provider.requests) == 2, WAIT_S)
    assert first_text(provider.requests[1]).startswith("hold on, new")
    a = sup.state.agents["a"]
    assert a.task == "hold on, new" and not a.change_on_restart
    assert [e.task for e in sink.of("a", "agent_queued")] == ["hold on, old", "hold on, new"]
    await wrap_up(sup)


async def test_reverting_a_change_before_the_restart_forgets_it(tmp_path: Path) -> None:
    sup, sink, provider, path = await changed_while_running(tmp_path, "hold on", "hold on, changed")
    save(path, plan_text(agent("a", "hold on")))
    await until(lambda: not sup.state.agents["a"].change_on_restart, WAIT_S)
    assert sup.pending_specs == {} and [r.changed_on_restart for r in reloads(sink)] == [["a"], []]
    await wrap_up(sup)


async def test_a_removed_running_agent_runs_until_it_ends(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on") + agent("b", "hold on too"))
    await until(lambda: status(sup, "a") == status(sup, "b") == "streaming")
    save(path, plan_text(agent("b", "hold on too")))
    await until(lambda: sup.state.agents["a"].removed_from_plan, WAIT_S)
    [loaded] = reloads(sink)
    assert loaded.agents == ["b"] and loaded.removed_still_running == ["a"]
    assert status(sup, "a") == "streaming" and not sup.state.agents["b"].removed_from_plan
    sup.handle(cmd.Reprompt(agent="a", text="finish now"))
    await until(lambda: sup.state.agents["a"].finished, WAIT_S)
    assert sup.state.agents["a"].outcome == "done"
    await wrap_up(sup)


async def test_a_removed_agent_that_has_not_started_is_skipped(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on") + agent("b", extra='after = ["a"]'))
    await until(lambda: status(sup, "b") == "waiting")
    save(path, plan_text(agent("a", "hold on")))
    await until(lambda: sup.state.agents["b"].finished, WAIT_S)
    b = sup.state.agents["b"]
    assert (b.outcome, b.summary, b.removed_from_plan, b.withdrawn) == ("skipped", REMOVED, True, True)
    assert reloads(sink)[0].removed_still_running == []
    assert status(sup, "a") == "streaming" and all(r.agent != "b" for r in provider.requests)
    await wrap_up(sup)
    assert sink.events[-1].status == "done"


async def test_an_agent_removed_and_put_back_runs_again(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on") + agent("b", extra='after = ["a"]'))
    await until(lambda: status(sup, "b") == "waiting")
    save(path, plan_text(agent("a", "hold on")))
    await until(lambda: sup.state.agents["b"].finished, WAIT_S)
    save(path, plan_text(agent("a", "hold on") + agent("b")))
    await until(lambda: sup.state.agents["b"].outcome == "done", WAIT_S)
    assert not sup.state.agents["b"].removed_from_plan and len(sink.of("b", "agent_queued")) == 2
    await wrap_up(sup)


async def test_a_broken_save_keeps_the_plan_and_a_fixed_one_is_applied(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on"))
    running = sup.plan
    broken = plan_text(agent("a", "hold on") + '\n[[agents]\nname = "b"\n')
    save(path, broken)
    await until(lambda: sup.state.plan_error is not None, WAIT_S)
    line = broken.splitlines().index("[[agents]") + 1
    assert (sup.state.plan_error or "").startswith(f"{path}: line {line}: invalid TOML")
    unknown = plan_text(agent("a", "hold on") + agent("b", extra='after = ["dek"]'))
    save(path, unknown)
    await until(lambda: "unknown agent" in (sup.state.plan_error or ""), WAIT_S)
    line = unknown.splitlines().index('after = ["dek"]') + 1
    assert sup.state.plan_error == f'{path}: line {line}: agents[1].after: unknown agent "dek"'
    rejected = [e for e in sink.events if isinstance(e, ev.PlanRejected)]
    assert [e.path for e in rejected] == [str(path), str(path)] and sup.plan is running
    assert "b" not in sup.state.agents and reloads(sink) == []
    save(path, plan_text(agent("a", "hold on") + agent("b", extra='after = ["a"]')))
    await until(lambda: sup.state.plan_error is None, WAIT_S)
    assert [r.agents for r in reloads(sink)] == [["a", "b"]] and status(sup, "b") in ("queued", "waiting")
    await wrap_up(sup)


async def test_going_back_to_the_running_plan_after_a_broken_save_clears_the_error(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on"))
    original = path.read_text()
    save(path, original.replace('out = "out"', 'out = "out"\nmax_parallel = "many"'))
    await until(lambda: sup.state.plan_error is not None, WAIT_S)
    save(path, original)
    await until(lambda: sup.state.plan_error is None, WAIT_S)
    assert [r.agents for r in reloads(sink)] == [["a"]]
    await wrap_up(sup)


async def test_five_saves_in_quick_succession_make_one_reload(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on"))
    agents = agent("a", "hold on")
    for n in range(1, 6):
        agents += agent(f"b{n}", extra='after = ["a"]')
        save(path, plan_text(agents))
    await until(lambda: "b5" in sup.state.agents, WAIT_S)
    save(path, plan_text(agents + agent("sentinel", extra='after = ["a"]')))
    await until(lambda: "sentinel" in sup.state.agents, WAIT_S)
    assert [r.agents[-1] for r in reloads(sink)] == ["b5", "sentinel"]
    assert [e.agent for e in sink.events if e.kind == "agent_queued"] == ["a", "b1", "b2", "b3", "b4", "b5", "sentinel"]
    await wrap_up(sup)


async def test_fleet_settings_apply_on_reload_and_session_settings_stay(tmp_path: Path) -> None:
    head = "max_parallel = 1\nbudget = { usd = 5.0 }"
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on") + agent("b"), head)
    await until(lambda: status(sup, "a") == "streaming")
    assert status(sup, "b") == "queued"
    (tmp_path / "elsewhere").mkdir()
    head = 'max_parallel = 2\nstall_after = 5\nbudget = { usd = 7.5 }\nworkdir = "elsewhere"\nworkers = 2'
    save(path, plan_text(agent("a", "hold on") + agent("b"), head).replace('workdir = "project"\n', ""))
    await until(lambda: sup.state.agents["b"].outcome == "done", WAIT_S)
    [loaded] = reloads(sink)
    assert loaded.settings_kept == ["workdir", "workers"] and sup.state.budget_usd == 7.5 and sup.plan.workers == "auto"
    assert sup.plan.workdir == (tmp_path / "project").resolve() and sup.plan.max_parallel == 2
    assert sup.watchdog.stall_after_s == 5 and sup.budgets.plan.budget.usd == 7.5
    await wrap_up(sup)


async def test_a_save_that_changes_nothing_records_nothing(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a", "hold on"))
    save(path, path.read_text() + "\n# a comment\n")
    assert sup.plan_watch is not None and sup.plan_watch.reloader.reload() is None
    save(path, path.read_text() + agent("b"))
    await until(lambda: "b" in sup.state.agents, WAIT_S)
    assert len(reloads(sink)) == 1
    await wrap_up(sup)


async def test_the_plan_watch_is_a_named_task_drained_by_finish(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(tmp_path, agent("a"))
    assert sup.plan_watch is not None and sup.plan_watch.task is not None
    assert sup.plan_watch.task.get_name() == "plan-watch"
    await wrap_up(sup)
    assert sup.plan_watch.task.done()
    save(path, plan_text(agent("a") + agent("b")))
    await asyncio.sleep(0.3)
    assert "b" not in sup.state.agents


async def test_plan_changes_sorts_agents_by_what_happens_to_them(tmp_path: Path) -> None:
    sup, sink, provider, path = await watched(
        tmp_path, agent("a", "hold on") + agent("b", "hold on") + agent("c", extra='after = ["a"]') + agent("d", extra='after = ["a"]')
    )
    await until(lambda: status(sup, "a") == status(sup, "b") == "streaming" and status(sup, "d") == "waiting")
    text = plan_text(agent("a", "hold on") + agent("b", "hold on, changed") + agent("d", "x", 'after = ["a"]') + agent("e"))
    changes = plan_changes(sup, parse_plan(text, path))
    assert [s.name for s in changes.added] == ["e"] and [s.name for s in changes.take_now] == ["d"]
    assert list(changes.on_restart) == ["b"] and changes.unchanged == ["a"]
    assert changes.removed == ["c"] and changes.dropped == ["c"]
    await wrap_up(sup)


async def test_slots_grow_and_shrink_while_agents_wait() -> None:
    slots = Slots(1)
    inside: list[int] = []

    async def occupy(n: int, leave: asyncio.Event) -> None:
        async with slots:
            inside.append(n)
            await leave.wait()

    leave = [asyncio.Event() for _ in range(4)]
    tasks = [asyncio.create_task(occupy(n, leave[n])) for n in range(4)]
    await until(lambda: inside == [0])
    slots.resize(3)
    await until(lambda: inside == [0, 1, 2])
    slots.resize(1)
    leave[0].set()
    leave[1].set()
    await until(lambda: slots.used == 1)
    assert inside == [0, 1, 2]
    tasks[3].cancel()
    leave[2].set()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert slots.used == 0 and inside == [0, 1, 2]


@pytest.mark.parametrize("granted_first", [True, False])
async def test_a_slot_granted_to_a_cancelled_waiter_is_given_back(granted_first: bool) -> None:
    slots = Slots(1)
    await slots.__aenter__()
    waiter = asyncio.create_task(slots.__aenter__())
    await asyncio.sleep(0)
    if granted_first:
        await slots.__aexit__(None, None, None)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    if not granted_first:
        await slots.__aexit__(None, None, None)
    assert slots.used == 0


def test_the_reducer_marks_changes_on_restart_and_agents_gone_from_the_plan() -> None:
    from tokenmaxx.sessions.state import reduce_all

    queued = [ev.AgentQueued(agent=name, role="critic", provider="sim", model="m") for name in ("a", "b", "c")]
    state = reduce_all([*queued, ev.PlanLoaded(path="fleet.toml", agents=["b", "c"], reload=True, changed_on_restart=["b"])])
    a, b, c = (state.agents[n] for n in "abc")
    assert (a.removed_from_plan, b.change_on_restart, c.change_on_restart, c.removed_from_plan) == (True, True, False, False)
    state = reduce_all([ev.AgentQueued(agent="b", role="critic", provider="sim", model="m2")], state)
    assert not state.agents["b"].change_on_restart and state.agents["b"].model == "m2"
    state = reduce_all([ev.AgentFinished(agent="a", outcome="skipped", summary=REMOVED)], state)
    assert state.agents["a"].withdrawn and not state.agents["c"].withdrawn
    state = reduce_all([ev.PlanLoaded(path="fleet.toml", agents=["a", "b", "c"], reload=True)], state)
    assert not state.agents["a"].removed_from_plan and not state.agents["a"].withdrawn
    first_load = reduce_all([*queued, ev.PlanLoaded(path="fleet.toml", agents=[], changed_on_restart=["a"])])
    assert not first_load.agents["a"].removed_from_plan and not first_load.agents["a"].change_on_restart
