"""The checks a harness agent (Claude Code, Codex) must pass: its provider's kind, its options, and that it is installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import ValidationError

from tokenmaxx.agents.plan_lines import KeyPath
from tokenmaxx.agents.plan_models import HARNESS_OPTIONS, HARNESS_PROVIDER_KIND, AgentSpec

if TYPE_CHECKING:
    from tokenmaxx.agents.plan_checks import Problem

INSTALL = {
    "claude-code": 'Claude Code is not installed: pip install "tokenmaxx[claude-code]"',
    "codex": "the Codex CLI is not installed: npm install -g @openai/codex, or give its path as harness_options.codex_path",
}


def harness_problems(where: KeyPath, agent: AgentSpec, provider_kind: str) -> Iterator[Problem]:
    from tokenmaxx.agents.plan_checks import Problem

    assert agent.harness is not None
    wanted = HARNESS_PROVIDER_KIND[agent.harness]
    if provider_kind != wanted:
        yield Problem((*where, "provider"), f'harness "{agent.harness}" needs a provider of kind "{wanted}", not "{provider_kind}"')
    try:
        HARNESS_OPTIONS[agent.harness].model_validate(agent.harness_options)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        yield Problem((*where, "harness_options", *first["loc"][:1]), f"{key}: {first['msg']}", at=(*where, "harness_options"))
        return
    if not _installed(agent):
        yield Problem((*where, "harness"), INSTALL[agent.harness])


def _installed(agent: AgentSpec) -> bool:
    if agent.harness == "claude-code":
        return importlib.util.find_spec("claude_agent_sdk") is not None
    from tokenmaxx.agents.runners.codex_home import find_codex

    return find_codex(agent.codex_options().codex_path) is not None
