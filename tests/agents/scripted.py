"""Test doubles for the runtime: a provider that plays a script, and a sink that keeps events in memory."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tokenmaxx.agents.plan import Plan, parse_plan
from tokenmaxx.agents.providers.base import (
    ModelRequest,
    ProviderEvent,
    ProviderFailure,
    Stop,
    TextDelta,
    ToolCallRequested,
    Usage,
    UsageReport,
)
from tokenmaxx.sessions import events as ev


class Hang:
    """In a script: stop sending and wait until cancelled."""


Step = ProviderEvent | Hang | ProviderFailure
Script = Callable[[ModelRequest], list[Step]]


@dataclass
class ScriptedProvider:
    """Plays `script(request)` for every request and remembers the requests."""

    script: Script
    name: str = "sim"
    kind: str = "sim"
    price_provider_id: str | None = "anthropic"
    price_as: str | None = "claude-sonnet-4-6"
    simulated: bool = True
    requests: list[ModelRequest] = field(default_factory=list)
    closed_streams: int = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]:
        self.requests.append(request)
        try:
            for step in self.script(request):
                await asyncio.sleep(0)
                if isinstance(step, Hang):
                    await asyncio.Event().wait()
                elif isinstance(step, ProviderFailure):
                    raise step
                else:
                    yield step
        finally:
            self.closed_streams += 1

    async def aclose(self) -> None:
        return None


def reply(text: str = "", *calls: tuple[str, dict[str, object]], usage: Usage | None = None) -> list[Step]:
    """A reply: some text, then tool calls, then usage and a stop."""
    steps: list[Step] = [TextDelta(chunk) for chunk in _chunks(text)]
    counter = itertools.count(1)
    steps += [ToolCallRequested(f"call-{id(calls)}-{next(counter)}", name, args) for name, args in calls]
    steps.append(UsageReport(usage or Usage(input_tokens=100, output_tokens=20)))
    steps.append(Stop("tool_use" if calls else "end_turn"))
    return steps


def _chunks(text: str) -> list[str]:
    return [text[i : i + 8] for i in range(0, len(text), 8)]


class MemorySink:
    """An event sink that stamps seqs and keeps everything in a list."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.snapshots: list[tuple[int, str]] = []

    def append(self, session_id: str, event: ev.Event) -> ev.Event:
        stamped = event.model_copy(update={"session_id": session_id, "seq": len(self.events) + 1})
        self.events.append(stamped)
        return stamped

    def append_snapshot(self, session_id: str, seq: int, state_json: str) -> None:
        self.snapshots.append((seq, state_json))

    def of(self, agent: str, kind: str | None = None) -> list[ev.Event]:
        return [e for e in self.events if getattr(e, "agent", None) == agent and (kind is None or e.kind == kind)]

    def kinds(self, agent: str) -> list[str]:
        return [e.kind for e in self.of(agent)]


def make_plan(tmp_path: Path, agents: str, head: str = "") -> Plan:
    """A plan on `tmp_path` with the given `[[agents]]` TOML."""
    (tmp_path / "project").mkdir(exist_ok=True)
    text = f'name = "t"\nworkdir = "project"\nout = "out"\n{head}\n{agents}'
    return parse_plan(text, tmp_path / "fleet.toml")


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until `condition()` holds, checking every few milliseconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
