"""Claude Code agents: the real CLI (bundled in claude-agent-sdk) against a fake Messages server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("claude_agent_sdk", reason="Claude Code tests need the extra: pip install -e '.[claude-code]'")

from agents import commands as cmd  # noqa: E402
from agents.pricing import price_usage  # noqa: E402
from agents.providers.base import Usage  # noqa: E402
from agents.supervisor import Supervisor  # noqa: E402
from sessions import events as ev  # noqa: E402
from sessions.store import Store  # noqa: E402
from tests.agents.scripted import make_plan, until  # noqa: E402
from tests.fakes import Call, ServerUsage, anthropic_server  # noqa: E402
from tests.fakes.anthropic_server import AnthropicFakeServer  # noqa: E402

KEY = "sk-test-planted-key-cc"
MODEL = "claude-sonnet-4-6"


@pytest.fixture
def server() -> Iterator[AnthropicFakeServer]:
    with AnthropicFakeServer() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MODEL_KEY", KEY)
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")


def plan_text(server: AnthropicFakeServer, policy: str = "", extra: str = "") -> str:
    head = f'[providers.fake]\nkind = "anthropic"\nbase_url = "{server.base_url}"\napi_key_env = "TEST_MODEL_KEY"\n'
    agent = f'[[agents]]\nname = "cc"\nrole = "critic"\nprovider = "fake"\nmodel = "{MODEL}"\nharness = "claude-code"\ntask = "Say hello."\n{extra}\n'
    if policy:
        agent += f"[agents.policy]\n{policy}\n"
    return head, agent  # type: ignore[return-value]


async def run_fleet(tmp_path: Path, server: AnthropicFakeServer, **options: object) -> tuple[Supervisor, Store, list[ev.Event]]:
    head, agent = plan_text(server, **options)  # type: ignore[arg-type]
    plan = make_plan(tmp_path, agent, head)
    store = await Store.open(tmp_path / "s.db")
    supervisor = Supervisor.create(plan, store, headless=True, out_root=tmp_path / "out" / "s1")
    await supervisor.start()
    async with asyncio.timeout(60):
        await supervisor.wait()
    await supervisor.finish()
    await store.flush()
    return supervisor, store, await store.events(supervisor.session_id)


def priced(usage: ServerUsage) -> float:
    cost = price_usage(
        Usage(usage.uncached_input + usage.cache_read + usage.cache_write, usage.output, usage.cache_read, usage.cache_write),
        MODEL,
        "anthropic",
    )
    assert cost is not None
    return cost


def prompts_seen(server: AnthropicFakeServer) -> list[str]:
    """The text of every user message of the last request, system-role messages skipped."""
    messages = server.requests[-1].body["messages"]
    return [str(m["content"]) for m in messages if m["role"] == "user"]


async def test_a_text_reply_is_recorded_with_its_tokens_and_cost(tmp_path: Path, server: AnthropicFakeServer) -> None:
    usage = ServerUsage(uncached_input=1000, output=40, cache_read=200)
    server.enqueue(anthropic_server.text_reply("Hello from the fake model.", usage=usage))
    supervisor, store, events = await run_fleet(tmp_path, server)
    try:
        agent = supervisor.state.agents["cc"]
        assert agent.outcome == "done", agent
        assert "Hello from the fake model." in "".join(e.text for e in events if isinstance(e, ev.Text))
        assert server.requests[0].path.startswith("/v1/messages")
        assert server.requests[0].headers["x-api-key"] == KEY
        assert agent.tokens.input == 1200 and agent.tokens.output == 40
        assert agent.cost_usd == pytest.approx(priced(usage))
        sessions = [e.harness_session for e in events if isinstance(e, ev.AgentStatusChanged) and e.harness_session]
        assert len(sessions) == 1
        harness_costs = [e.harness_cost_usd for e in events if isinstance(e, ev.UsageReported) and e.harness_cost_usd]
        assert len(harness_costs) == 1 and harness_costs[0] > 0
        assert (tmp_path / "out" / "s1" / ".harness" / "cc" / "claude").is_dir()
    finally:
        await store.close()
