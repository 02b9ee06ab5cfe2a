"""Codex agents: the real Codex CLI (`codex app-server`) under the real Supervisor, against a fake Responses API.

Each test asserts the events, token totals and cost in the store against what the fake sent.
They skip only where no Codex CLI is installed (see NOTES-codex.md: `.ci/run` installs it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents import commands as cmd
from agents.pricing import price_usage
from agents.providers.base import Usage
from agents.runners.codex_home import find_codex
from agents.supervisor import Supervisor
from agents.tools.process import group_alive
from sessions.store import Store
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
    return make_plan(tmp_path, agent, head + provider)


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
