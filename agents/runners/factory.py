"""`make_runner`: the one place that knows every kind of agent runner."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import assert_never

from tokenmaxx.agents.providers.base import Provider
from tokenmaxx.agents.runners.base import AgentRunner, RunnerSetup
from tokenmaxx.agents.tools import tool_specs

ProviderFor = Callable[[str], tuple[Provider, asyncio.Semaphore | None]]


def make_runner(setup: RunnerSetup, provider_for: ProviderFor) -> AgentRunner:
    """The runner for the agent's kind; a harness's module is imported only here, when a plan uses it."""
    harness = setup.spec.harness
    match harness:
        case None:
            return _own_loop(setup, provider_for)
        case "claude-code":
            from tokenmaxx.agents.runners.claude_code import ClaudeCodeRunner

            return ClaudeCodeRunner(setup)
        case "codex":
            from tokenmaxx.agents.runners.codex import CodexRunner

            return CodexRunner(setup)
        case _:
            assert_never(harness)


def _own_loop(setup: RunnerSetup, provider_for: ProviderFor) -> AgentRunner:
    from tokenmaxx.agents.loop import AgentLoop
    from tokenmaxx.agents.providers.sim import SimProvider

    spec = setup.spec
    provider, slots = provider_for(spec.provider)
    if isinstance(provider, SimProvider):
        provider.configure(spec.name, spec.sim)
    return AgentLoop(
        agent=spec.name,
        role=spec.role,
        model=setup.model,
        system=setup.system,
        tools=tool_specs(setup.tools),
        max_tokens=spec.max_tokens,
        provider=provider,
        provider_slots=slots,
        workspace=setup.workspace,
        host=setup.host,
    )
