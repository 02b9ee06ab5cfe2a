"""Claude Code agents: the real CLI (bundled in claude-agent-sdk) against a fake Messages server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("claude_agent_sdk", reason="Claude Code tests need the extra: pip install -e '.[claude-code]'")

from tokenmaxx.agents import commands as cmd  # noqa: E402
from tokenmaxx.agents.pricing import price_usage  # noqa: E402
from tokenmaxx.agents.providers.base import Usage  # noqa: E402
from tokenmaxx.agents.supervisor import Supervisor  # noqa: E402
from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.sessions.store import Store  # noqa: E402
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


def plan_text(base_url: str, policy: str = "", extra: str = "") -> tuple[str, str]:
    head = f'[providers.fake]\nkind = "anthropic"\nbase_url = "{base_url}"\napi_key_env = "TEST_MODEL_KEY"\n'
    agent = f'[[agents]]\nname = "cc"\nrole = "critic"\nprovider = "fake"\nmodel = "{MODEL}"\nharness = "claude-code"\ntask = "Say hello."\n{extra}\n'
    if policy:
        agent += f"[agents.policy]\n{policy}\n"
    return head, agent


async def run_fleet(tmp_path: Path, server: AnthropicFakeServer | str, **options: str) -> tuple[Supervisor, Store, list[ev.Event]]:
    head, agent = plan_text(server if isinstance(server, str) else server.base_url, **options)
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


async def test_a_bash_call_runs_and_a_denied_write_does_not(tmp_path: Path, server: AnthropicFakeServer) -> None:
    server.enqueue(
        anthropic_server.tool_reply(Call("toolu_1", "Bash", {"command": "echo ran > ran.txt", "description": "write"})),
        anthropic_server.tool_reply(Call("toolu_2", "Write", {"file_path": "/tmp/tokenmaxx-escape.txt", "content": "x"})),
        anthropic_server.text_reply("Done."),
    )
    supervisor, store, events = await run_fleet(tmp_path, server, policy='run_command = "auto"')
    try:
        assert supervisor.state.agents["cc"].outcome == "done"
        calls = {e.call_id: e for e in events if isinstance(e, ev.ToolCall)}
        results = {e.call_id: e for e in events if isinstance(e, ev.ToolResult)}
        assert calls["toolu_1"].tool == "Bash" and calls["toolu_1"].args["command"] == "echo ran > ran.txt"
        assert results["toolu_1"].ok and (tmp_path / "out" / "s1" / "cc" / "ran.txt").read_text() == "ran\n"
        assert not results["toolu_2"].ok and not Path("/tmp/tokenmaxx-escape.txt").exists()
        assert len(server.requests) == 3
        assert supervisor.state.agents["cc"].tokens.input == 3 * 25
    finally:
        await store.close()


async def test_a_call_the_policy_asks_about_is_denied_headless(tmp_path: Path, server: AnthropicFakeServer) -> None:
    server.enqueue(
        anthropic_server.tool_reply(Call("toolu_1", "Bash", {"command": "echo no > no.txt"})),
        anthropic_server.text_reply("I could not run it."),
    )
    supervisor, store, events = await run_fleet(tmp_path, server, policy='run_command = "ask"')
    try:
        decided = [e for e in events if isinstance(e, ev.ApprovalDecided)]
        assert [(d.call_id, d.approved) for d in decided] == [("toolu_1", False)]
        result = next(e for e in events if isinstance(e, ev.ToolResult))
        assert not result.ok and "denied" in result.output
        assert not (tmp_path / "out" / "s1" / "cc" / "no.txt").exists()
        assert supervisor.state.agents["cc"].outcome == "done"
    finally:
        await store.close()


async def test_a_rate_limit_is_retried_then_succeeds(tmp_path: Path, server: AnthropicFakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "2")
    server.enqueue(anthropic_server.rate_limited(retry_after="0"), anthropic_server.text_reply("After the wait."))
    supervisor, store, events = await run_fleet(tmp_path, server)
    try:
        assert supervisor.state.agents["cc"].outcome == "done"
        assert any(isinstance(e, ev.ProviderError) and e.error_kind == "rate_limit" for e in events)
        assert supervisor.state.agents["cc"].tokens.input == 25
    finally:
        await store.close()


async def test_a_dead_server_fails_the_agent_clearly(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    supervisor, store, events = await run_fleet(tmp_path, f"http://127.0.0.1:{port}")
    try:
        agent = supervisor.state.agents["cc"]
        assert agent.outcome == "failed" and "Claude Code" in agent.summary
        assert agent.tokens.total == 0
    finally:
        await store.close()


def processes_in(folder: Path) -> list[int]:
    """Live processes whose working folder is under `folder` (a CLI or a shell it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and (cwd == folder or folder in cwd.parents):
            found.append(int(entry.name))
    return found


async def start_fleet(tmp_path: Path, server: AnthropicFakeServer) -> tuple[Supervisor, Store]:
    head, agent = plan_text(server.base_url)
    store = await Store.open(tmp_path / "s.db")
    supervisor = Supervisor.create(make_plan(tmp_path, agent, head), store, headless=True, out_root=tmp_path / "out" / "s1")
    texts: list[ev.Event] = []
    supervisor.log.subscribe(lambda event, state: texts.append(event) if isinstance(event, ev.Text) else None)
    await supervisor.start()
    await until(lambda: bool(texts), timeout=30)
    return supervisor, store


async def test_kill_mid_stream_ends_the_cli_at_once(tmp_path: Path, server: AnthropicFakeServer) -> None:
    server.enqueue(anthropic_server.slow(pieces=200, gap_s=0.05))
    supervisor, store = await start_fleet(tmp_path, server)
    try:
        assert processes_in(tmp_path / "out")
        killed_at = time.monotonic()
        supervisor.handle(cmd.Kill(agent="cc"))
        await until(lambda: supervisor.state.agents["cc"].finished and not processes_in(tmp_path / "out"), timeout=10)
        assert time.monotonic() - killed_at < 1.0
        assert supervisor.state.agents["cc"].outcome == "killed"
        await supervisor.finish()
        await store.flush()
        usage = [e for e in await store.events(supervisor.session_id) if isinstance(e, ev.UsageReported)]
        assert usage and usage[0].estimated and usage[0].input_tokens == 25
    finally:
        await store.close()


async def test_reprompt_mid_turn_goes_on_in_the_same_session(tmp_path: Path, server: AnthropicFakeServer) -> None:
    server.enqueue(anthropic_server.slow(pieces=200, gap_s=0.05), anthropic_server.text_reply("Changed course."))
    supervisor, store = await start_fleet(tmp_path, server)
    try:
        supervisor.handle(cmd.Reprompt(agent="cc", text="Write about cats instead."))
        async with asyncio.timeout(30):
            await supervisor.wait()
        assert supervisor.state.agents["cc"].outcome == "done"
        assert len(server.requests) == 2
        seen = prompts_seen(server)
        assert "Say hello." in seen[0] and "Write about cats instead." in seen[-1]
        ids = {r.body["metadata"]["user_id"] for r in server.requests}
        assert len({json.loads(i)["session_id"] for i in ids}) == 1
        await supervisor.finish()
    finally:
        await store.close()


def test_a_harness_on_the_wrong_provider_kind_or_with_a_typo_is_a_plan_error(tmp_path: Path) -> None:
    from tokenmaxx.agents.plan import PlanError

    agent = '[[agents]]\nname = "cc"\nrole = "critic"\nmodel = "m"\nprovider = "openai"\nharness = "claude-code"\ntask = "t"\n'
    with pytest.raises(PlanError, match='needs a provider of kind "anthropic"'):
        make_plan(tmp_path, agent)
    typo = agent.replace('"openai"', '"anthropic"') + '[agents.harness_options]\npermision_mode = "plan"\n'
    with pytest.raises(PlanError, match="permision_mode") as caught:
        make_plan(tmp_path, typo)
    assert caught.value.line is not None
