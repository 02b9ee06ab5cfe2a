"""Codex agents: the real Codex CLI (`codex app-server`) under the real Supervisor, against a fake Responses API.

Each test asserts the events, token totals and cost in the store against what the fake sent.
They skip only where no Codex CLI is installed (see NOTES-codex.md: `.ci/run` installs it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.pricing import price_usage
from tokenmaxx.agents.resume import resume, resumed_supervisor
from tokenmaxx.agents.providers.base import Usage
from tokenmaxx.agents.runners.codex_home import find_codex
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.agents.tools.process import group_alive
from tokenmaxx.sessions.store import Store
from tests.agents.scripted import make_plan, until
from tests.fakes import ServerUsage, responses_server as wire
from tests.fakes.responses_server import ResponsesFakeServer

KEY = "sk-test-codex-key-5d1e"
MODEL = "gpt-4o"
CODEX = find_codex()
pytestmark = pytest.mark.skipif(CODEX is None, reason="the Codex CLI is not installed (npm install --prefix /opt/codex @openai/codex)")


@pytest.fixture
def server() -> Iterator[ResponsesFakeServer]:
    with ResponsesFakeServer() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_TEST_KEY", KEY)


def codex_plan(tmp_path: Path, base_url: str, *, policy: str = "auto", extra: str = "", head: str = ""):  # type: ignore[no-untyped-def]
    provider = f'[providers.remote]\nkind = "openai"\nbase_url = "{base_url}"\napi_key_env = "CODEX_TEST_KEY"\n'
    agent = (
        f'[[agents]]\nname = "cx"\nrole = "chart-builder"\nprovider = "remote"\nmodel = "{MODEL}"\nharness = "codex"\n'
        f'task = "Write notes."\npolicy = {{ run_command = "{policy}" }}\n{extra}'
    )
    plan = make_plan(tmp_path, agent, head + provider)
    plan.path.write_text(f'name = "t"\nworkdir = "project"\nout = "out"\n{head + provider}\n{agent}')
    return plan


async def started(tmp_path: Path, plan, **options) -> tuple[Supervisor, Store]:  # type: ignore[no-untyped-def]
    store = await Store.open(tmp_path / "s.db")
    sup = Supervisor.create(plan, store, headless=True, **options)
    await sup.start()
    return sup, store


async def finished(sup: Supervisor, store: Store, timeout: float = 30) -> list:  # type: ignore[type-arg]
    async with asyncio.timeout(timeout):
        await sup.wait()
    await sup.finish()
    await store.flush()
    return await store.events(sup.session_id, agent="cx")


@contextmanager
def socket_closed() -> Iterator[int]:
    """A loopback port nothing listens on (connection refused) for the duration."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    yield port


def neutral(usage: ServerUsage) -> Usage:
    return Usage(
        input_tokens=usage.uncached_input + usage.cache_read + usage.cache_write,
        output_tokens=usage.output,
        cache_read_tokens=usage.cache_read,
        reasoning_tokens=usage.reasoning,
    )


async def assert_totals(store: Store, sup: Supervisor, *usages: ServerUsage) -> None:
    summary = await store.session(sup.session_id)
    replies = [neutral(u) for u in usages]
    cost = sum(price_usage(u, MODEL, "openai") or 0.0 for u in replies)
    assert (summary.input_tokens, summary.output_tokens, summary.cache_read_tokens) == (
        sum(u.input_tokens for u in replies),
        sum(u.output_tokens for u in replies),
        sum(u.cache_read_tokens for u in replies),
    )
    assert round(summary.cost_usd, 10) == round(cost, 10) and cost > 0


def codex_pids(sup: Supervisor) -> int | None:
    runner = sup.runs["cx"].runner
    rpc = getattr(runner, "rpc", None)
    return rpc.pid if rpc is not None else None


async def test_a_text_reply_streams_and_is_metered(tmp_path: Path, server: ResponsesFakeServer) -> None:
    usage = ServerUsage(uncached_input=900, cache_read=300, output=40, reasoning=8)
    server.enqueue(wire.text_reply("All the notes are written.", chunks=4, usage=usage))
    sup, store = await started(tmp_path, codex_plan(tmp_path, server.base_url))
    events = await finished(sup, store)
    assert sup.state.agents["cx"].outcome == "done"
    assert "".join(e.text for e in events if e.kind == "text") == "All the notes are written."
    reports = [e for e in events if e.kind == "usage"]
    assert [(r.input_tokens, r.cache_read_tokens, r.output_tokens, r.reasoning_tokens, r.estimated) for r in reports] == [
        (1200, 300, 40, 8, False)
    ]
    await assert_totals(store, sup, usage)
    assert wire.input_texts(server.requests[0])[-1] == "Write notes."
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert (sup.out_root / ".harness" / "cx" / "codex" / "home" / "config.toml").is_file()
    await store.close()


async def test_a_command_runs_in_the_agents_folder(tmp_path: Path, server: ResponsesFakeServer) -> None:
    first, second = ServerUsage(500, 20), ServerUsage(700, 10, cache_read=500)
    server.enqueue(wire.command_reply("echo hi > notes.txt", call_id="call_w", usage=first), wire.text_reply("Wrote notes.txt.", usage=second))
    sup, store = await started(tmp_path, codex_plan(tmp_path, server.base_url))
    events = await finished(sup, store)
    assert sup.state.agents["cx"].outcome == "done"
    assert (sup.out_root / "cx" / "notes.txt").read_text() == "hi\n"
    [call] = [e for e in events if e.kind == "tool_call"]
    assert call.tool == "run_command" and "echo hi > notes.txt" in call.args["command"]
    [result] = [e for e in events if e.kind == "tool_result"]
    assert result.call_id == call.call_id == "call_w" and result.ok
    assert wire.last_input(server.requests[1])["type"] == "function_call_output"
    await assert_totals(store, sup, first, second)
    await store.close()


async def test_a_command_denied_from_the_approvals_queue_does_not_run(tmp_path: Path, server: ResponsesFakeServer) -> None:
    server.enqueue(wire.command_reply("echo no > denied.txt", call_id="call_d"), wire.text_reply("It was denied, fine."))
    sup, store = await started(tmp_path, codex_plan(tmp_path, server.base_url, policy="ask"))
    sup.headless = False
    await until(lambda: bool(sup.runs["cx"].approvals), timeout=20)
    sup.handle(cmd.Deny(agent="cx", call_id="call_d"))
    events = await finished(sup, store)
    assert sup.state.agents["cx"].outcome == "done"
    assert not (sup.out_root / "cx" / "denied.txt").exists()
    [decided] = [e for e in events if e.kind == "approval_decided"]
    assert decided.call_id == "call_d" and not decided.approved
    [result] = [e for e in events if e.kind == "tool_result"]
    assert not result.ok and "denied" in result.output
    await assert_totals(store, sup, ServerUsage(), ServerUsage())
    await store.close()


async def test_kill_mid_stream_ends_the_cli_and_its_children(tmp_path: Path, server: ResponsesFakeServer) -> None:
    server.enqueue(wire.stalled())
    sup, store = await started(tmp_path, codex_plan(tmp_path, server.base_url))
    await until(lambda: bool(server.requests), timeout=20)
    await asyncio.sleep(0.3)
    pid = codex_pids(sup)
    assert pid is not None and group_alive(pid)
    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    sup.handle(cmd.Kill(agent="cx"))
    await until(lambda: not group_alive(pid), timeout=5)
    assert loop.time() - killed_at < 1.0
    events = await finished(sup, store)
    assert sup.state.agents["cx"].outcome == "killed"
    estimates = [e for e in events if e.kind == "usage"]
    assert estimates and all(e.estimated for e in estimates) and estimates[0].output_tokens > 0
    await store.close()


def processes_with(marker: str) -> list[int]:
    """The live processes whose command line holds `marker` (a /proc scan)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state not in (b"Z", b"X"):
            found.append(int(entry.name))
    return found


async def test_kill_while_a_command_runs_leaves_no_orphan(tmp_path: Path, server: ResponsesFakeServer) -> None:
    marker = "sleep 37.123"
    server.enqueue(wire.command_reply(marker, call_id="call_s"))
    sup, store = await started(tmp_path, codex_plan(tmp_path, server.base_url))
    await until(lambda: bool(processes_with(marker)), timeout=20)
    pid = codex_pids(sup)
    loop = asyncio.get_running_loop()
    killed_at = loop.time()
    sup.handle(cmd.Kill(agent="cx"))
    await until(lambda: pid is not None and not group_alive(pid) and not processes_with(marker), timeout=5)
    assert loop.time() - killed_at < 1.0
    await finished(sup, store)
    assert sup.state.agents["cx"].outcome == "killed"
    await store.close()


async def test_reprompt_mid_turn_goes_on_in_the_same_thread(tmp_path: Path, server: ResponsesFakeServer) -> None:
    server.enqueue(wire.stalled(), wire.text_reply("Switched to the new plan."))
    sup, store = await started(tmp_path, codex_plan(tmp_path, server.base_url))
    await until(lambda: bool(server.requests), timeout=20)
    await asyncio.sleep(0.3)
    pid = codex_pids(sup)
    sup.handle(cmd.Reprompt(agent="cx", text="Use the new plan instead."))
    events = await finished(sup, store)
    assert sup.state.agents["cx"].outcome == "done"
    assert codex_pids(sup) == pid, "the reprompt went to the same app server"
    assert len(server.requests) == 2
    second = wire.input_texts(server.requests[1])
    assert "Write notes." in second and any("Use the new plan instead." in text for text in second)
    assert server.requests[0].body["prompt_cache_key"] == server.requests[1].body["prompt_cache_key"]
    reports = [e for e in events if e.kind == "usage"]
    assert [r.estimated for r in reports] == [True, False]
    assert reports[0].output_tokens > 0
    assert "Switched to the new plan." in "".join(e.text for e in events if e.kind == "text")
    await store.close()


async def test_a_429_is_retried_then_succeeds(tmp_path: Path, server: ResponsesFakeServer) -> None:
    usage = ServerUsage(300, 25)
    server.enqueue(wire.rate_limited("1"), wire.text_reply("Made it after the wait.", usage=usage))
    sup, store = await started(tmp_path, codex_plan(tmp_path, server.base_url))
    events = await finished(sup, store)
    assert sup.state.agents["cx"].outcome == "done"
    [error] = [e for e in events if e.kind == "provider_error"]
    assert error.error_kind == "rate_limit"
    assert len(server.requests) == 2
    await assert_totals(store, sup, usage)
    await store.close()


async def test_a_dead_server_fails_the_agent_within_the_stall_window(tmp_path: Path) -> None:
    with socket_closed() as port:
        plan = codex_plan(tmp_path, f"http://127.0.0.1:{port}/v1", head="stall_after = 1.5\n")
        sup, store = await started(tmp_path, plan, auto_remedy=False)
        loop = asyncio.get_running_loop()
        began = loop.time()
        events = await finished(sup, store, timeout=40)
    agent = sup.state.agents["cx"]
    assert agent.outcome == "failed"
    assert "could not reach the model" in agent.summary and str(port) in agent.summary
    assert any(e.kind == "agent_flagged" and e.flag == "stalled" for e in events)
    assert loop.time() - began < 20
    await store.close()


def codex_servers_under(folder: Path) -> list[int]:
    """The live `codex app-server` processes working in a folder under `folder`."""
    found = []
    for pid in processes_with("app-server"):
        try:
            if os.readlink(f"/proc/{pid}/cwd").startswith(str(folder)):
                found.append(pid)
        except OSError:
            continue
    return found


def run_then_kill_9(plan: Path, db: Path, server: ResponsesFakeServer) -> None:
    """Run the plan headless in a subprocess and SIGKILL it once the second model request is streaming."""
    runner = subprocess.Popen(
        [sys.executable, "-m", "tokenmaxx.tui", "run", str(plan), "--headless", "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while len(server.requests) < 2 or server.pending:
        assert runner.poll() is None, runner.stderr.read().decode() if runner.stderr else ""
        assert time.monotonic() < deadline, "the run never reached its second request"
        time.sleep(0.05)
    time.sleep(0.5)
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    runner.stderr.close()  # type: ignore[union-attr]


async def test_resume_after_kill_9_goes_on_in_the_same_thread(tmp_path: Path, server: ResponsesFakeServer) -> None:
    first, last = ServerUsage(400, 30), ServerUsage(900, 15, cache_read=400)
    server.enqueue(wire.command_reply("echo one > one.txt", call_id="call_1", usage=first), wire.stalled())
    plan = codex_plan(tmp_path, server.base_url)
    db = tmp_path / "s.db"
    await asyncio.to_thread(run_then_kill_9, plan.path, db, server)
    await until(lambda: not codex_servers_under(tmp_path), timeout=10)
    server.enqueue(wire.text_reply("Picked up where I left off.", usage=last))
    async with await Store.open(db) as store:
        (summary,) = await store.sessions()
        supervisor, events = await resumed_supervisor(store, summary.id, headless=True)
        await resume(supervisor, events)
        async with asyncio.timeout(30):
            await supervisor.wait()
        await supervisor.finish()
        await store.flush()
        after = await store.events(summary.id)
        final = await store.session(summary.id)
    assert supervisor.state.agents["cx"].outcome == "done"
    threads = {e.harness_session for e in after if e.kind == "agent_status" and e.harness_session}
    assert len(threads) == 1
    resumed = server.requests[-1]
    assert resumed.body["prompt_cache_key"] == server.requests[0].body["prompt_cache_key"] == threads.pop()
    texts = wire.input_texts(resumed)
    outputs = [item for item in resumed.body["input"] if item.get("type") == "function_call_output"]
    assert "Write notes." in texts and [item["call_id"] for item in outputs] == ["call_1"]
    usages = [e for e in after if e.kind == "usage"]
    assert [u.estimated for u in usages] == [False, False]
    assert final.input_tokens == sum(u.input_tokens for u in usages) == 400 + 1300
    await store.close()


async def test_policy_deny_declines_every_command_codex_asks_for(tmp_path: Path, server: ResponsesFakeServer) -> None:
    server.enqueue(wire.command_reply("ls -la", call_id="call_l"), wire.text_reply("Could not list, fine."))
    sup, store = await started(tmp_path, codex_plan(tmp_path, server.base_url, policy="deny"))
    events = await finished(sup, store)
    assert sup.state.agents["cx"].outcome == "done"
    [result] = [e for e in events if e.kind == "tool_result"]
    assert not result.ok and "policy (deny)" in result.output
    assert not [e for e in events if e.kind == "approval_requested"]
    await store.close()


async def test_a_usage_report_past_the_budget_interrupts_the_turn(tmp_path: Path, server: ResponsesFakeServer) -> None:
    dear = ServerUsage(uncached_input=7000, output=50)
    server.enqueue(wire.command_reply("echo late > late.txt", call_id="call_b", usage=dear), wire.text_reply("never asked for"))
    plan = codex_plan(tmp_path, server.base_url, extra="budget = { tokens = 6000 }\n")
    sup, store = await started(tmp_path, plan)
    events = await finished(sup, store)
    agent = sup.state.agents["cx"]
    assert agent.outcome == "over_budget" and "6,000 tokens" in agent.summary
    assert any(e.kind == "agent_flagged" and e.flag == "over_budget" for e in events)
    assert len(server.requests) == 1
    await assert_totals(store, sup, dear)
    await store.close()
