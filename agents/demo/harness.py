"""The demo through a harness: the same five roles as Claude Code agents, on the demo's local model server."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tokenmaxx.agents.demo.fake_anthropic import DEMO_MODEL, FakeAnthropic
from tokenmaxx.agents.plan_harness import INSTALL
from tokenmaxx.agents.plan_models import ProviderConfig

if TYPE_CHECKING:
    from tokenmaxx.agents.plan import Plan

PROVIDER = "demo-model"
KEY_ENV = "TOKENMAXX_DEMO_KEY"
DEMO_KEY = "sk-demo-local-not-a-key"


def harness_missing(harness: str) -> str | None:
    """Why the demo cannot run through `harness` here (with the install command), or None."""
    import importlib.util

    return None if importlib.util.find_spec("claude_agent_sdk") is not None else INSTALL[harness]


async def run_with_model(plan: Plan, run: Callable[[Plan], Awaitable[int]]) -> int:
    """Run `plan` as Claude Code agents while the demo's model server is up; stop the server after."""
    model = FakeAnthropic()
    base_url = await model.start()
    try:
        return await run(through_claude_code(plan, base_url))
    finally:
        await model.stop()


def through_claude_code(plan: Plan, base_url: str) -> Plan:
    """`plan` with every agent a Claude Code agent of the local model at `base_url`."""
    os.environ.setdefault(KEY_ENV, DEMO_KEY)
    provider = ProviderConfig(kind="anthropic", base_url=base_url, api_key_env=KEY_ENV)
    update = {"harness": "claude-code", "provider": PROVIDER, "model": DEMO_MODEL, "sim": {}}
    agents = [agent.model_copy(update=update) for agent in plan.agents]
    return plan.model_copy(update={"providers": {**plan.providers, PROVIDER: provider}, "agents": agents})
