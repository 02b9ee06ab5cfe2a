"""What the supervisor keeps for each agent between commands: its task, gate, runner and approvals."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from tokenmaxx.agents.plan_models import AgentSpec
from tokenmaxx.agents.runners.base import AgentRunner
from tokenmaxx.sessions import events as ev


@dataclass(eq=False)
class AgentRun:
    """One agent of a session: its spec, its running task, its runner and what it waits on."""

    spec: AgentSpec
    runner: AgentRunner | None = None  # None until it first starts, or after a resume until it goes on
    task: asyncio.Task[None] | None = None
    turn_task: asyncio.Task[object] | None = None
    stop_reason: str | None = None
    iteration: int = 1
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    approvals: dict[str, asyncio.Future[tuple[bool, str]]] = field(default_factory=dict)
    approval_tools: dict[str, str] = field(default_factory=dict)
    always_allowed: set[str] = field(default_factory=set)
    interrupted: bool = False  # its turn was cut short by stop-all; it hears so when resumed
    pending_notes: list[str] = field(default_factory=list)  # supervisor messages for a runner not made yet
    recorded: Sequence[ev.Event] | None = None  # the session's events, for a runner to take up after a resume

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

    def note(self, text: str) -> None:
        """A supervisor message for the agent: its runner hears it at the next turn."""
        if self.runner is not None:
            self.runner.note(text)
        else:
            self.pending_notes.append(text)

    def restore(self, events: Sequence[ev.Event]) -> None:
        """Go on from the session's recorded events when the agent next runs."""
        self.runner = None
        self.recorded = events

    def adopt(self, runner: AgentRunner) -> None:
        """Make `runner` the agent's, handing it the recorded conversation and the messages in waiting."""
        if self.recorded is not None:
            runner.restore(self.recorded)
            self.recorded = None
        for text in self.pending_notes:
            runner.note(text)
        self.pending_notes.clear()
        self.runner = runner
