"""The watchdog: notices agents that are stalled, looping or burning tokens, and flags them.

It listens to every event (a log subscriber) and checks the clock now and then. Time
comes from an injectable clock so tests can move it. A flag is raised once; it is raised
again only after the agent has moved on and fallen into the same trouble.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import FleetState

ACTIVE = frozenset({"starting", "streaming", "tool"})


@dataclass
class _Watch:
    last_seen: float
    last_call: str = ""
    repeats: int = 0
    tokens_since_progress: int = 0
    raised: set[str] = field(default_factory=set)


class Watchdog:
    """Raises `agent_flagged` events through `flag(agent, flag, detail)`."""

    def __init__(
        self,
        flag: Callable[[str, ev.Flag, str], None],
        *,
        stall_after_s: float = 60.0,
        loop_repeats: int = 3,
        burn_tokens: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._flag = flag
        self.stall_after_s = stall_after_s
        self.loop_repeats = loop_repeats
        self.burn_tokens = burn_tokens
        self.clock = clock
        self._watches: dict[str, _Watch] = {}

    def observe(self, event: ev.Event, state: FleetState) -> None:
        """A log subscriber: note progress, repeated calls and spend."""
        agent = getattr(event, "agent", None)
        if agent is None or isinstance(event, ev.AgentFlagged):
            return
        now = self.clock()
        watch = self._watches.get(agent)
        if watch is None:
            watch = self._watches[agent] = _Watch(last_seen=now)
        watch.last_seen = now
        if watch.raised:
            watch.raised.discard("stalled")
        if type(event) is ev.Text:
            return
        match event:
            case ev.ToolCall():
                self._tool_call(agent, watch, event)
            case ev.Artifact():
                watch.tokens_since_progress = 0
                watch.raised.discard("burning")
            case ev.UsageReported():
                self._spend(agent, watch, event.input_tokens + event.output_tokens)
            case ev.SupervisorAction(action="restart" | "reprompt" | "kill"):
                watch.repeats, watch.last_call, watch.tokens_since_progress = 0, "", 0
                watch.raised.difference_update({"looping", "burning"})
            case ev.AgentStatusChanged(status="starting"):
                watch.repeats, watch.last_call = 0, ""

    def check(self, state: FleetState) -> None:
        """Flag every active agent that has been silent for longer than `stall_after_s`."""
        now = self.clock()
        for name, agent in state.agents.items():
            if agent.status not in ACTIVE:
                continue
            watch = self._watches.setdefault(name, _Watch(last_seen=now))
            silent = now - watch.last_seen
            if silent >= self.stall_after_s and "stalled" not in watch.raised:
                watch.raised.add("stalled")
                self._flag(name, "stalled", f"no event for {silent:.0f}s while {agent.status}")

    def forget(self, agent: str) -> None:
        self._watches.pop(agent, None)

    def _tool_call(self, agent: str, watch: _Watch, event: ev.ToolCall) -> None:
        signature = event.tool + json.dumps(event.args, sort_keys=True)
        watch.repeats = watch.repeats + 1 if signature == watch.last_call else 1
        watch.last_call = signature
        watch.tokens_since_progress = 0
        watch.raised.discard("burning")
        if watch.repeats < self.loop_repeats:
            watch.raised.discard("looping")
        elif "looping" not in watch.raised:
            watch.raised.add("looping")
            self._flag(agent, "looping", f"{event.tool} called {watch.repeats} times running with the same arguments")

    def _spend(self, agent: str, watch: _Watch, tokens: int) -> None:
        watch.tokens_since_progress += tokens
        if watch.tokens_since_progress >= self.burn_tokens and "burning" not in watch.raised:
            watch.raised.add("burning")
            self._flag(agent, "burning", f"{watch.tokens_since_progress:,} tokens without a tool call or artifact")
