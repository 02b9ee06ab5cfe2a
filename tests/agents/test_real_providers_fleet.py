"""Whole agents on the real SDKs, over the wire to local fake servers, down to the store's totals."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tokenmaxx.agents.pricing import price_usage
from tokenmaxx.agents.providers.base import Usage
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions.store import Store
from tests.agents.scripted import make_plan
from tests.fakes import Call, ServerUsage, anthropic_server, openai_server
from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.openai_server import OpenAIFakeServer

KEY = "sk-test-planted-key-7f3a9c"
MODELS = {"anthropic": ("claude-sonnet-4-6", "anthropic"), "openai": ("gpt-4o", "openai")}


@pytest.fixture(params=["anthropic", "openai"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(kind: str) -> Iterator[AnthropicFakeServer | OpenAIFakeServer]:
    fake = AnthropicFakeServer() if kind == "anthropic" else OpenAIFakeServer()
    with fake:
        yield fake
    assert fake.errors == []


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tokenmaxx.agents.loop.backoff_delay", lambda attempt, after: after if after is not None else 0.01)
    monkeypatch.setenv("TEST_MODEL_KEY", KEY)


def wire(kind: str) -> ModuleType:
    return anthropic_server if kind == "anthropic" else openai_server


def usage_of(server_usage: ServerUsage) -> Usage:
    return Usage(
        input_tokens=server_usage.uncached_input + server_usage.cache_read + server_usage.cache_write,
        output_tokens=server_usage.output,
        cache_read_tokens=server_usage.cache_read,
        cache_write_tokens=server_usage.cache_write,
        reasoning_tokens=server_usage.reasoning,
    )


async def run_agent(tmp_path: Path, kind: str, server: AnthropicFakeServer | OpenAIFakeServer) -> tuple[Supervisor, Store]:
    model, _ = MODELS[kind]
    head = f'[providers.remote]\nkind = "{kind}"\nbase_url = "{server.base_url}"\napi_key_env = "TEST_MODEL_KEY"\n'
    agents = f'[[agents]]\nname = "a"\nrole = "chart-builder"\nprovider = "remote"\nmodel = "{model}"\ntask = "Write notes."\n'
    plan = make_plan(tmp_path, agents, head)
    store = await Store.open(tmp_path / "s.db")
    sup = Supervisor.create(plan, store, headless=True)
    await sup.start()
    async with asyncio.timeout(20):
        await sup.wait()
    await sup.finish()
    await store.flush()
    return sup, store


async def totals(store: Store, sup: Supervisor) -> tuple[int, int, int, int, float]:
    summary = await store.session(sup.session_id)
    return (summary.input_tokens, summary.output_tokens, summary.cache_read_tokens, summary.cache_write_tokens, round(summary.cost_usd, 10))


def expected(kind: str, *usages: ServerUsage) -> tuple[int, int, int, int, float]:
    model, provider_id = MODELS[kind]
    neutral = [usage_of(u) for u in usages]
    cost = sum(price_usage(u, model, provider_id) or 0.0 for u in neutral)
    return (
        sum(u.input_tokens for u in neutral),
        sum(u.output_tokens for u in neutral),
        sum(u.cache_read_tokens for u in neutral),
        sum(u.cache_write_tokens for u in neutral),
        round(cost, 10),
    )


async def test_text_reply_with_cache_tokens(tmp_path: Path, kind: str, server) -> None:  # type: ignore[no-untyped-def]
    usage = ServerUsage(uncached_input=120, output=30, cache_read=800, cache_write=0 if kind == "openai" else 64)
    server.enqueue(wire(kind).text_reply("All done here.", chunks=4, usage=usage))
    sup, store = await run_agent(tmp_path, kind, server)
    assert sup.state.agents["a"].outcome == "done"
    assert await totals(store, sup) == expected(kind, usage)
    events = await store.events(sup.session_id, agent="a")
    assert "".join(e.text for e in events if e.kind == "text") == "All done here."
    await store.close()


async def test_tool_calls_run_and_their_artifacts_land(tmp_path: Path, kind: str, server) -> None:  # type: ignore[no-untyped-def]
    first, second, third = ServerUsage(100, 40), ServerUsage(300, 20, cache_read=100), ServerUsage(400, 10)
    server.enqueue(
        wire(kind).tool_reply(Call("c1", "write_file", {"path": "notes.md", "content": "# Notes\n" + "x" * 200}), pieces=5, usage=first),
        wire(kind).tool_reply(
            Call("c2", "write_file", {"path": "a.txt", "content": "A"}), Call("c3", "list_files", {"path": "out:a"}), usage=second
        ),
        wire(kind).text_reply("Wrote notes.md and a.txt.", usage=third),
    )
    sup, store = await run_agent(tmp_path, kind, server)
    agent = sup.state.agents["a"]
    assert agent.outcome == "done" and agent.turn == 3
    assert sorted(a.path for a in agent.artifacts) == ["a/a.txt", "a/notes.md"]
    assert (sup.out_root / "a" / "notes.md").read_text().startswith("# Notes")
    assert await totals(store, sup) == expected(kind, first, second, third)
    third_request = server.requests[2].body
    assert "a.txt" in str(third_request["messages"][-1])
    await store.close()


async def test_rate_limit_then_success_shows_the_wait(tmp_path: Path, kind: str, server) -> None:  # type: ignore[no-untyped-def]
    usage = ServerUsage(50, 5)
    server.enqueue(wire(kind).rate_limited(retry_after=None, retry_after_ms="80"), wire(kind).text_reply("ok", usage=usage))
    sup, store = await run_agent(tmp_path, kind, server)
    events = await store.events(sup.session_id, agent="a")
    errors = [e for e in events if e.kind == "provider_error"]
    assert [(e.error_kind, e.retry_in_s) for e in errors] == [("rate_limit", 0.08)]
    assert any(e.kind == "agent_status" and e.status == "retrying" for e in events)
    assert sup.state.agents["a"].outcome == "done"
    assert await totals(store, sup) == expected(kind, usage)
    await store.close()


@pytest.mark.parametrize("failure", ["overloaded", "server_error", "malformed"])
async def test_retryable_failures_retry_the_turn(tmp_path: Path, kind: str, server, failure: str) -> None:  # type: ignore[no-untyped-def]
    usage = ServerUsage(60, 6)
    server.enqueue(getattr(wire(kind), failure)(), wire(kind).text_reply("recovered", usage=usage))
    sup, store = await run_agent(tmp_path, kind, server)
    assert sup.state.agents["a"].outcome == "done"
    kinds = [e.error_kind for e in await store.events(sup.session_id, agent="a") if e.kind == "provider_error"]
    assert kinds == [{"overloaded": "overloaded", "server_error": "server", "malformed": "server"}[failure]]
    text = "".join(e.text for e in await store.events(sup.session_id, agent="a") if e.kind == "text")
    assert text.endswith("recovered")
    billed = [e for e in await store.events(sup.session_id, agent="a") if e.kind == "usage" and e.estimated]
    assert await totals(store, sup) == expected(kind, usage, *[ServerUsage(e.input_tokens, e.output_tokens) for e in billed])
    await store.close()


async def test_a_dropped_stream_retries_and_records_what_was_billed(tmp_path: Path, kind: str, server) -> None:  # type: ignore[no-untyped-def]
    cut, whole = ServerUsage(200, 9), ServerUsage(200, 4)
    server.enqueue(wire(kind).dropped("This reply will be cut", usage=cut), wire(kind).text_reply("Second try.", usage=whole))
    sup, store = await run_agent(tmp_path, kind, server)
    assert sup.state.agents["a"].outcome == "done"
    usages = [e for e in await store.events(sup.session_id, agent="a") if e.kind == "usage"]
    assert [u.estimated for u in usages] == [True, False]
    assert usages[0].output_tokens > 0
    if kind == "anthropic":
        assert usages[0].input_tokens == 200
    else:
        assert usages[0].input_tokens > 0  # Chat Completions counts only at the end: estimated from the request
    assert usages[-1].input_tokens == 200 and usages[-1].output_tokens == 4
    assert sup.state.tokens.input == sum(u.input_tokens for u in usages)
    await store.close()


async def test_a_wrong_key_fails_at_once_naming_the_variable(tmp_path: Path, kind: str, server) -> None:  # type: ignore[no-untyped-def]
    server.enqueue(wire(kind).unauthorized())
    sup, store = await run_agent(tmp_path, kind, server)
    agent = sup.state.agents["a"]
    assert agent.outcome == "failed" and "TEST_MODEL_KEY" in agent.summary
    assert len(server.requests) == 1
    dump = "\n".join(e.model_dump_json() for e in await store.events(sup.session_id))
    assert KEY not in dump and KEY not in (tmp_path / "s.db").read_bytes().decode("latin-1")
    await store.close()


async def test_a_missing_key_fails_the_agent_not_the_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_MODEL_KEY")
    with AnthropicFakeServer() as server:
        sup, store = await run_agent(tmp_path, "anthropic", server)
    assert sup.state.agents["a"].outcome == "failed"
    assert "set the environment variable TEST_MODEL_KEY" in sup.state.agents["a"].summary
    assert server.requests == []
    await store.close()


@pytest.mark.parametrize("command", ["kill", "reprompt"])
async def test_kill_and_reprompt_hang_up_the_stream_at_once(tmp_path: Path, kind: str, server, command: str) -> None:  # type: ignore[no-untyped-def]
    from tokenmaxx.agents import commands as cmd
    from tests.agents.scripted import until

    model, _ = MODELS[kind]
    server.enqueue(wire(kind).slow(pieces=400, gap_s=0.05), wire(kind).text_reply("Understood."))
    head = f'[providers.remote]\nkind = "{kind}"\nbase_url = "{server.base_url}"\napi_key_env = "TEST_MODEL_KEY"\n'
    agents = f'[[agents]]\nname = "a"\nrole = "critic"\nprovider = "remote"\nmodel = "{model}"\ntask = "Talk."\n'
    store = await Store.open(tmp_path / "s.db")
    sup = Supervisor.create(make_plan(tmp_path, agents, head), store)
    await sup.start()
    await until(lambda: sup.state.agents["a"].live_output_estimate > 0)
    sent = time.monotonic()
    sup.handle(cmd.Kill(agent="a") if command == "kill" else cmd.Reprompt(agent="a", text="Stop and summarise."))
    hung_up = await asyncio.to_thread(server.wait_for_disconnect, 5)
    assert hung_up is not None and hung_up - sent < 1.0
    await until(lambda: sup.state.agents["a"].finished)
    if command == "reprompt":
        assert "Stop and summarise." in str(server.requests[-1].body["messages"][-1])
        assert sup.state.agents["a"].outcome == "done"
    else:
        assert sup.state.agents["a"].outcome == "killed"
    await sup.finish()
    await store.close()
