"""The seam between the supervisor and whatever takes an agent's turns.

A runner is tokenmaxx's own loop (`agents.loop.AgentLoop`) or a harness that owns its tool loop
and conversation (Claude Code, Codex). The supervisor only calls the `AgentRunner` protocol; a
runner only talks to the world through its `AgentHost`. A turn is stopped by cancelling its
task: an external runner turns that cancel into an interrupt of the harness, drains the turn
to its end, then lets the cancel go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tokenmaxx.agents.conversation import FRESH_START
from tokenmaxx.agents.plan_models import AgentSpec, ProviderConfig
from tokenmaxx.agents.providers.base import ToolCallPart, Usage
from tokenmaxx.agents.tools import Workspace
from tokenmaxx.sessions import events as ev

HARNESS_TOOLS = {"Bash": "run_command", "Write": "write_file", "Edit": "write_file", "MultiEdit": "write_file", "Read": "read_file"}
"""A harness's own tool names, as the plan's policies name them."""


@dataclass(frozen=True)
class TurnResult:
    """How a turn ended: `more` when the model asked for tools and should hear back."""

    more: bool
    outcome: ev.Outcome | None = None
    summary: str = ""


class AgentHost(Protocol):
    """What a runner needs from the supervisor."""

    def emit(self, event: ev.Event) -> ev.Event: ...

    async def safe_point(self, agent: str) -> None: ...

    async def budget_refusal(self, agent: str, input_tokens: int, max_output_tokens: int) -> str | None: ...

    def price(self, agent: str, usage: Usage) -> tuple[float | None, float | None]: ...

    async def policy(self, agent: str, tool: str) -> str: ...

    async def approval(self, agent: str, call: ToolCallPart) -> tuple[bool, str]: ...

    def text_flush_s(self) -> float: ...


class AgentRunner(Protocol):
    """Takes one agent's turns; lives as long as the agent's conversation (or harness session)."""

    turn: int

    def start(self, prompt: str) -> None:
        """Begin a fresh conversation with `prompt`, the task and its inputs."""

    async def take_turn(self) -> TurnResult: ...

    def note(self, text: str) -> None:
        """A message from the supervisor (a reprompt), heard at the start of the next turn."""

    def restore(self, events: Sequence[ev.Event]) -> None:
        """Take up the conversation the session's events recorded for this agent (resume after a crash)."""

    async def aclose(self) -> None:
        """Release what the runner holds (a harness process); a later turn may start it again."""


@dataclass(frozen=True)
class RunnerSetup:
    """Everything the plan and the session say about one agent's runner."""

    spec: AgentSpec
    model: str
    system: str
    tools: tuple[str, ...]
    provider: ProviderConfig
    workspace: Workspace
    session_out: Path
    host: AgentHost
    stall_after_s: float = 60.0

    @property
    def harness_home(self) -> Path:
        """The harness's own config folder: under the session's out folder, never the user's home."""
        return self.session_out / ".harness" / self.spec.name


def harness_tool(name: str) -> str:
    """The tokenmaxx tool a harness's tool stands for in the plan's policies (its own name when none)."""
    return HARNESS_TOOLS.get(name, name)


def harness_session(events: Sequence[ev.Event], agent: str) -> str | None:
    """The harness session the agent's latest fresh start recorded, if any."""
    session = None
    for event in events:
        if not isinstance(event, ev.AgentStatusChanged) or event.agent != agent:
            continue
        if event.harness_session:
            session = event.harness_session
        elif event.status == "starting" and event.reason.startswith(FRESH_START):
            session = None
    return session


@dataclass(frozen=True)
class HarnessPricing:
    """How a harness agent's replies are priced: as its provider's kind prices the model."""

    price_provider_id: str | None
    price_as: str | None = None


def harness_pricing(provider: ProviderConfig) -> HarnessPricing:
    return HarnessPricing(price_provider_id=provider.kind)
