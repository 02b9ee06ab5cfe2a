"""What the supervisor keeps for each agent between commands: its task, gate and approvals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from agents.conversation import Conversation
from agents.plan_models import AgentSpec


@dataclass(eq=False)
class AgentRun:
    """One agent of a session: its spec, its running task and what it waits on."""

    spec: AgentSpec
    conversation: Conversation = field(default_factory=Conversation)
    task: asyncio.Task[None] | None = None
    turn_task: asyncio.Task[object] | None = None
    stop_reason: str | None = None
    iteration: int = 1
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    approvals: dict[str, asyncio.Future[tuple[bool, str]]] = field(default_factory=dict)
    approval_tools: dict[str, str] = field(default_factory=dict)
    always_allowed: set[str] = field(default_factory=set)
    interrupted: bool = False  # its turn was cut short by stop-all; it hears so when resumed

    def __post_init__(self) -> None:
        self.gate.set()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def paused(self) -> bool:
        return not self.gate.is_set()

    def pause(self) -> None:
        self.gate.clear()

    def resume(self) -> None:
        self.gate.set()
