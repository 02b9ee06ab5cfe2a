"""Metering a Claude Code turn: one `usage` event per API call, read from the CLI's raw stream.

Each call's usage (message_start's input, message_delta's output) is reported as the call ends,
so budgets see it at once. The turn's `ResultMessage` settles the rest in one more event: what
its `usage` (the sum over the turn's calls) shows beyond what the stream did, and the harness's
own cost for the turn. `total_cost_usd` is cumulative: per CLI process, or for the whole session
when the CLI took up the figure an earlier process saved on a clean exit (never after a crash);
its `model_usage` tells which, as it then counts more input than this process was sent. The
turn's share is the growth. A call cut short by an interrupt is reported as an estimate: its
input, and the text streamed so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tokenmaxx.agents.conversation import FRESH_START
from tokenmaxx.agents.loop import report_usage
from tokenmaxx.agents.providers.base import Usage
from tokenmaxx.agents.runners.base import AgentHost
from tokenmaxx.sessions import events as ev

CHARS_PER_TOKEN = 4


@dataclass
class _Call:
    usage: Usage
    finished: bool = False
    chars: int = 0


@dataclass
class TurnMeter:
    """Reports one turn's usage and remembers the session's cumulative cost between turns."""

    host: AgentHost
    agent: str
    provider: str
    model: str
    cost_seen: float = 0.0  # the harness's cost for the session so far, as recorded
    reported: Usage = field(default_factory=Usage)
    _call: _Call | None = None
    _process_input: int = 0  # uncached input tokens the current CLI process was sent
    _process_total: float | None = None  # the current CLI process's last cumulative cost

    def new_process(self) -> None:
        """A CLI process starts: its cumulative figures start afresh, or from a saved session total."""
        self._process_input, self._process_total = 0, None

    def begin_turn(self) -> None:
        self.reported = Usage()
        self._call = None

    def on_stream(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "message_start":
            self.flush()
            raw = event.get("message", {}).get("usage") or {}
            self._process_input += int(raw.get("input_tokens") or 0)
            self._call = _Call(_usage_of(raw))
        elif kind == "message_delta" and self._call is not None:
            update = _usage_of(event.get("usage") or {})
            self._call.usage = _merged(self._call.usage, update)
            self._call.finished = True
            self.flush()
        elif kind == "content_block_delta" and self._call is not None:
            self._call.chars += len(event.get("delta", {}).get("text", ""))

    def flush(self) -> None:
        """Report the call in hand: exact when it finished, else an estimate of what it was billed."""
        call, self._call = self._call, None
        if call is None:
            return
        usage = call.usage
        if not call.finished:
            usage = replace(usage, output_tokens=max(usage.output_tokens, -(-call.chars // CHARS_PER_TOKEN)))
        self._emit(usage, estimated=not call.finished, harness_cost=None)

    def settle(self, total_usage: Mapping[str, Any] | None, total_cost_usd: float | None, model_usage: Mapping[str, Any] | None = None) -> None:
        """End the turn on its ResultMessage: what the stream missed, and the harness's cost for the turn."""
        harness_cost = None
        if total_cost_usd is not None:
            harness_cost = round(max(0.0, total_cost_usd - self._baseline(model_usage)), 10)
            self._process_total = total_cost_usd
            self.cost_seen += harness_cost
        self.flush()
        missing = _difference(_usage_of(total_usage or {}), self.reported)
        if _any(missing) or harness_cost:
            self._emit(missing, estimated=False, harness_cost=harness_cost)

    def _baseline(self, model_usage: Mapping[str, Any] | None) -> float:
        """What the CLI's cumulative cost stood at before this turn."""
        if self._process_total is not None:
            return self._process_total
        counted = sum(int((m or {}).get("inputTokens") or 0) for m in (model_usage or {}).values())
        return self.cost_seen if counted > self._process_input else 0.0

    def _emit(self, usage: Usage, *, estimated: bool, harness_cost: float | None) -> None:
        self.reported = _sum(self.reported, usage)
        report_usage(self.host, self.agent, self.provider, self.model, usage, estimated=estimated, harness_cost_usd=harness_cost)


def recorded_cost(events: Sequence[ev.Event], agent: str) -> float:
    """The harness's cumulative cost so far in the agent's latest session, from its usage events."""
    total = 0.0
    for event in events:
        if isinstance(event, ev.AgentStatusChanged) and event.agent == agent and event.reason.startswith(FRESH_START):
            total = 0.0
        elif isinstance(event, ev.UsageReported) and event.agent == agent and event.harness_cost_usd:
            total += event.harness_cost_usd
    return total


def _usage_of(raw: Mapping[str, Any]) -> Usage:
    """Anthropic's usage (input excludes cached) in tokenmaxx's terms (input includes cached)."""
    cache_read = int(raw.get("cache_read_input_tokens") or 0)
    cache_write = int(raw.get("cache_creation_input_tokens") or 0)
    return Usage(
        input_tokens=int(raw.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=int(raw.get("output_tokens") or 0),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _merged(start: Usage, delta: Usage) -> Usage:
    """message_delta's usage is cumulative for the call: each field, the larger of the two."""
    return Usage(*(max(a, b) for a, b in zip(_fields(start), _fields(delta), strict=True)))


def _sum(a: Usage, b: Usage) -> Usage:
    return Usage(*(x + y for x, y in zip(_fields(a), _fields(b), strict=True)))


def _difference(total: Usage, reported: Usage) -> Usage:
    return Usage(*(max(0, x - y) for x, y in zip(_fields(total), _fields(reported), strict=True)))


def _any(usage: Usage) -> bool:
    return any(_fields(usage))


def _fields(usage: Usage) -> tuple[int, int, int, int, int]:
    return (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens, usage.reasoning_tokens)
