"""Whole agents behind what real gateways do (reproduced by tests/fakes), and plans whose money cannot be counted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tokenmaxx.agents.plan import PlanError
from tokenmaxx.agents.pricing import price_usage
from tokenmaxx.agents.providers.base import Usage
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions.export import to_markdown
from tokenmaxx.sessions.store import Store
from tests.agents.scripted import make_plan
from tests.fakes import Call, ServerUsage, anthropic_server, openai_server
from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.openai_server import OpenAIFakeServer

KEY = "sk-test-gateway-key-51c0e9"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tokenmaxx.agents.loop.backoff_delay", lambda attempt, after: 0.01)
    monkeypatch.setenv("GATEWAY_KEY", KEY)


def provider_head(kind: str, base_url: str, key_env: str | None = "GATEWAY_KEY") -> str:
    key = f'api_key_env = "{key_env}"\n' if key_env else ""
    return f'[providers.gw]\nkind = "{kind}"\nbase_url = "{base_url}"\n{key}'


def agent(model: str, extra: str = "") -> str:
    return f'[[agents]]\nname = "a"\nrole = "chart-builder"\nprovider = "gw"\nmodel = "{model}"\ntask = "Write notes."\n{extra}'


async def run(tmp_path: Path, head: str, agents: str) -> tuple[Supervisor, Store]:
    store = await Store.open(tmp_path / "s.db")
    sup = Supervisor.create(make_plan(tmp_path, agents, head), store, headless=True)
    await sup.start()
    async with asyncio.timeout(20):
        await sup.wait()
    await sup.finish()
    await store.flush()
    return sup, store


async def events_of(store: Store, sup: Supervisor, kind: str) -> list:
    return [e for e in await store.events(sup.session_id, agent="a") if e.kind == kind]


async def test_a_gateway_model_name_is_priced_and_the_server_cost_shown_beside_ours(tmp_path: Path) -> None:
    usage = ServerUsage(uncached_input=1000, output=100)
    with OpenAIFakeServer() as server:
        server.enqueue(openai_server.costed_reply("Done.", usage=usage, cost=0.5))
        sup, store = await run(tmp_path, provider_head("openai", server.base_url), agent(openai_server.GATEWAY_MODELS[0]))
    (reported,) = await events_of(store, sup, "usage")
    ours = price_usage(Usage(input_tokens=1000, output_tokens=100), "gpt-4o-mini", "openai")
    assert reported.cost_usd == pytest.approx(ours) and reported.server_cost_usd == 0.5
    assert "the server says $0.5000 (**differs**)" in to_markdown(await store.events(sup.session_id))
    await store.close()


async def test_a_whole_json_reply_is_used_said_and_not_retried(tmp_path: Path) -> None:
    with OpenAIFakeServer() as server:
        server.enqueue(openai_server.whole_json("All done.", usage=ServerUsage(uncached_input=80, output=6)))
        sup, store = await run(tmp_path, provider_head("openai", server.base_url), agent("gpt-4o"))
        assert len(server.requests) == 1
    assert sup.state.agents["a"].outcome == "done" and sup.state.agents["a"].summary == "All done."
    assert await events_of(store, sup, "provider_error") == []
    assert any("not a stream" in e.reason for e in await events_of(store, sup, "agent_status"))
    assert [(u.input_tokens, u.output_tokens) for u in await events_of(store, sup, "usage")] == [(80, 6)]
    await store.close()


async def test_a_first_event_without_input_is_estimated_when_the_stream_is_cut(tmp_path: Path) -> None:
    with AnthropicFakeServer() as server:
        server.enqueue(
            anthropic_server.zero_input_start(usage=ServerUsage(uncached_input=300, output=9), cut=True),
            anthropic_server.text_reply("Second try.", usage=ServerUsage(uncached_input=300, output=4)),
        )
        sup, store = await run(tmp_path, provider_head("anthropic", server.base_url), agent("claude-sonnet-4-6"))
    cut, whole = await events_of(store, sup, "usage")
    assert cut.estimated and cut.input_tokens > 0 and cut.output_tokens > 0
    assert (whole.estimated, whole.input_tokens) == (False, 300)
    await store.close()


async def test_invalid_tool_json_is_told_to_the_model_and_kept_in_the_event(tmp_path: Path) -> None:
    with OpenAIFakeServer() as server:
        server.enqueue(
            openai_server.tool_reply(Call("c1", "write_file", '{"path": "notes.md", "content": "x'), pieces=2),
            openai_server.text_reply("Fixed."),
        )
        sup, store = await run(tmp_path, provider_head("openai", server.base_url), agent("gpt-4o"))
        second = server.requests[1].body["messages"]
    (call,) = await events_of(store, sup, "tool_call")
    (result,) = await events_of(store, sup, "tool_result")
    assert call.raw_args == '{"path": "notes.md", "content": "x'
    assert not result.ok and "invalid JSON" in result.output and "missing required argument" not in result.output
    assert "invalid JSON" in str(second[-1])
    await store.close()


async def test_between_retries_the_agent_reads_retrying_not_streaming(tmp_path: Path) -> None:
    with OpenAIFakeServer() as server:
        server.enqueue(openai_server.overloaded(), openai_server.overloaded(), openai_server.text_reply("ok"))
        sup, store = await run(tmp_path, provider_head("openai", server.base_url), agent("gpt-4o"))
    statuses = [(e.status, e.reason) for e in await events_of(store, sup, "agent_status")]
    assert [s for s, _ in statuses].count("streaming") == 2  # the first attempt, then the one that answered
    assert ("retrying", "connecting, attempt 3 of 6") in statuses
    await store.close()


async def test_a_named_key_variable_that_is_unset_is_an_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_KEY")
    with OpenAIFakeServer() as server:
        sup, store = await run(tmp_path, provider_head("openai", server.base_url), agent("gpt-4o"))
        assert server.requests == []
    assert sup.state.agents["a"].outcome == "failed"
    assert "set the environment variable GATEWAY_KEY" in sup.state.agents["a"].summary
    await store.close()


async def test_a_keyless_local_server_is_written_without_api_key_env_and_errors_name_it_plainly(tmp_path: Path) -> None:
    with OpenAIFakeServer() as server:
        server.enqueue(openai_server.unauthorized())
        sup, store = await run(tmp_path, provider_head("openai", server.base_url, key_env=None).replace("gw", "local"), agent("gpt-4o").replace('"gw"', '"local"'))
        assert server.requests[0].headers["authorization"] == "Bearer local"
    assert "openai provider 'local'" in sup.state.agents["a"].summary
    assert "[redacted]" not in sup.state.agents["a"].summary
    await store.close()


@pytest.mark.parametrize(
    ("model", "extra", "prices"),
    [
        ("anthropic/claude-haiku-4-5", "", ""),
        ("azure/gpt-4o-mini", "", ""),
        ("Qwen/Qwen3-8B", "", ""),
        ("my-gpt", 'price_as = "gpt-4o-mini"\n', ""),
        ("my-gpt", "", '[prices."my-gpt"]\nprice_as = "gpt-4o-mini"\n'),
    ],
)
def test_gateway_names_and_aliases_are_priced_so_a_usd_budget_is_kept(tmp_path: Path, model: str, extra: str, prices: str) -> None:
    plan = make_plan(tmp_path, agent(model, extra + "budget = { usd = 0.5 }\n"), provider_head("openai", "http://127.0.0.1:9/v1") + prices)
    from tokenmaxx.agents.budget import Budgets

    cost, _ = Budgets(plan).price(plan.agents[0], _Gateway(), Usage(input_tokens=1000, output_tokens=100))
    assert cost is not None and cost > 0


class _Gateway:
    name = "gw"
    kind = "openai"
    price_provider_id = None
    price_as = None
    simulated = False


def test_an_agent_usd_budget_over_an_unpriced_model_is_refused_at_load_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(PlanError) as caught:
        make_plan(tmp_path, agent("my-local-model", "budget = { usd = 0.5 }\n"), provider_head("openai", "http://127.0.0.1:9/v1"))
    message = str(caught.value)
    assert "agents[0].budget" in message and '[prices."my-local-model"]' in message


FLEET = """
name = "fleet"
workdir = "project"
out = "out"
budget = {{ usd = 0.5 }}

[providers.local]
kind = "openai"
base_url = "{url}"

[[agents]]
name = "a"
role = "chart-builder"
provider = "local"
model = "my-local-model"
task = "Write notes."
"""


def run_cli(tmp_path: Path, url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "project").mkdir(exist_ok=True)
    (tmp_path / "fleet.toml").write_text(FLEET.format(url=url))
    env = {**os.environ, "TOKENMAXX_DB": str(tmp_path / "s.db")}
    command = [sys.executable, "-m", "tokenmaxx.tui", "run", "fleet.toml", "--headless", *flags]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_a_fleet_usd_budget_over_unpriced_agents_refuses_headless_without_yes(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "http://127.0.0.1:9/v1")
    assert result.returncode == 2, result.stderr
    assert 'a ("my-local-model")' in result.stderr and '[prices."my-local-model"]' in result.stderr
    assert "--yes" in result.stderr and "Traceback" not in result.stderr


def test_a_fleet_usd_budget_over_unpriced_agents_runs_with_yes_counting_tokens(tmp_path: Path) -> None:
    with OpenAIFakeServer() as server:
        server.enqueue(openai_server.text_reply("Notes written.", usage=ServerUsage(uncached_input=500, output=50)))
        result = run_cli(tmp_path, server.base_url, "--yes")
    assert result.returncode == 0, result.stderr
    assert "accepted: --yes" in result.stderr
    session_id = result.stdout.split("session ")[-1].split()[0]
    summary = asyncio.run(_summary(tmp_path / "s.db", session_id))
    assert (summary.unknown_price_tokens, summary.cost_usd) == (550, 0)


async def _summary(db: Path, session_id: str):  # type: ignore[no-untyped-def]
    store = await Store.open(db)
    try:
        return await store.session(session_id)
    finally:
        await store.close()
