"""The simulated model: seeded role policies that stream like a real model and call the real tools.

Each reply is decided by the role's policy (`agents.sim`) from the conversation alone, streamed as
text deltas at a realistic token rate, followed by its tool calls, a usage report priced as a real
model (`price_as`) with prompt caching simulated, and a stop. Per-agent knobs (`configure`) make
an agent stall, loop on its first run, or fail, so the watchdog has something to catch.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace

from tokenmaxx.agents.conversation import INTERRUPTED
from tokenmaxx.agents.providers.base import (
    Message,
    ModelRequest,
    ProviderEvent,
    Stop,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolCallRequested,
    ToolResultPart,
    Usage,
    UsageReport,
)
from tokenmaxx.agents.sim import Context, Step, context_from, is_fresh, policy_for
from tokenmaxx.agents.sim.context import Call

TOKENS_PER_S = 45.0
CHARS_PER_TOKEN = 4
DELTA_INTERVAL_S = 0.05
FIRST_TOKEN_S = 0.3
STALL_TEXT_CHARS = 48
MAX_RERUNS = 3
"""Calls cut short by the supervisor that the sim runs again before it lets the role's policy see the failure."""
MAX_LOOP_TURNS = 400  # long enough that a person can step in; the budget usually stops it first
SPEAKER_TAG = re.compile(r"^\[[\w -]+\]\s*")
OPTION_TYPES: dict[str, type] = {"stall_at_turn": int, "loop_on_first_run": bool, "fail": bool}


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How one agent misbehaves: stall on a turn, loop on its first run, or fail."""

    stall_at_turn: int | None = None
    loop_on_first_run: bool = False
    fail: bool = False

    @classmethod
    def from_dict(cls, options: Mapping[str, object]) -> SimOptions:
        """Validate a plan's `sim = {...}` table; raises ValueError naming the bad key."""
        for key, value in options.items():
            expected = OPTION_TYPES.get(key)
            if expected is None:
                raise ValueError(f'sim: unknown option "{key}"; known: {", ".join(OPTION_TYPES)}')
            if type(value) is not expected:
                raise ValueError(f"sim.{key}: expected {expected.__name__}, got {type(value).__name__}")
        stall = options.get("stall_at_turn")
        if isinstance(stall, int) and stall < 1:
            raise ValueError(f"sim.stall_at_turn: must be 1 or more, got {stall}")
        return cls(**options)  # type: ignore[arg-type]


@dataclass(slots=True)
class _AgentState:
    options: SimOptions = field(default_factory=SimOptions)
    runs: int = 0  # fresh starts seen
    prompt: tuple[tuple[int, int], ...] = ()  # (hash, chars) of each block of the last request


class SimProvider:
    """A deterministic, seeded stand-in for a model; needs no key and no network."""

    kind = "sim"
    simulated = True

    def __init__(
        self, name: str = "sim", *, price_as: str = "claude-sonnet-4-6", speed: float = 1.0, seed: int = 0
    ) -> None:
        if not speed > 0:
            raise ValueError(f"sim provider {name!r}: speed must be more than 0, got {speed}")
        self.name = name
        self.price_as: str | None = price_as
        self.price_provider_id = price_provider_for(price_as)
        self.speed = speed
        self.seed = seed
        self._agents: dict[str, _AgentState] = {}

    def configure(self, agent: str, options: Mapping[str, object]) -> None:
        """Set an agent's behaviour knobs from its plan's `sim` table (see SimOptions)."""
        self._state(agent).options = SimOptions.from_dict(options)

    def runs(self, agent: str) -> int:
        """How many times this agent's conversation has started fresh."""
        return self._state(agent).runs

    async def stream(self, request: ModelRequest) -> AsyncIterator[ProviderEvent]:
        """Decide the next step, stream its text, request its tool calls, report usage and stop."""
        state = self._state(request.agent)
        if is_fresh(request.messages):
            state.runs += 1
        ctx = context_from(request, seed=self.seed, run=state.runs)
        step = self._decide(ctx, state)
        if state.options.stall_at_turn == ctx.turn and not ctx.reprompt:
            async for delta in self._text(step.text[:STALL_TEXT_CHARS]):
                yield delta
            await asyncio.Event().wait()
        async for delta in self._text(step.text):
            yield delta
        calls = [
            ToolCallRequested(f"sim_{request.agent}_r{state.runs}_t{ctx.turn}_{index}", call.name, dict(call.args))
            for index, call in enumerate(step.calls)
        ]
        for call in calls:
            yield call
        yield UsageReport(self._usage(request, state, step))
        yield Stop("tool_use" if calls else "end_turn")

    async def aclose(self) -> None:
        """Nothing to release: the sim holds no connections."""

    def _state(self, agent: str) -> _AgentState:
        return self._agents.setdefault(agent, _AgentState())

    def _decide(self, ctx: Context, state: _AgentState) -> Step:
        policy = policy_for(ctx.role)
        if state.options.fail:
            step = Step(f"I can't complete this task: the {ctx.role or 'agent'} work failed in this run. Task failed.")
        elif retry := _rerun_interrupted(ctx):
            step = retry
        elif state.options.loop_on_first_run and state.runs == 1 and not ctx.reprompts:
            step = _loop_step(ctx, policy(replace(ctx, turn=1, exchanges=())))
        else:
            step = policy(ctx)
        if ctx.reprompt:
            step = Step(f"{acknowledge(ctx)}\n\n{step.text}", step.calls)
        return step

    async def _text(self, text: str) -> AsyncIterator[TextDelta]:
        """Deltas on a server's clock: delta i is due DELTA_INTERVAL_S * i after the first, however late
        the client reads, as a real stream keeps coming while the client is busy (a late read catches up)."""
        await asyncio.sleep(FIRST_TOKEN_S / self.speed)
        size = max(1, round(TOKENS_PER_S * self.speed * CHARS_PER_TOKEN * DELTA_INTERVAL_S))
        loop = asyncio.get_running_loop()
        start = loop.time()
        for index, chunk in enumerate(chunks(text, size)):
            if index:
                await asyncio.sleep(max(0.0, start + index * DELTA_INTERVAL_S - loop.time()))
            yield TextDelta(chunk)

    def _usage(self, request: ModelRequest, state: _AgentState, step: Step) -> Usage:
        blocks = prompt_blocks(request)
        prompt = tuple((hash(block), len(block)) for block in blocks)
        shared = 0
        for now, before in zip(prompt, state.prompt):
            if now != before:
                break
            shared += now[1]
        state.prompt = prompt
        total = sum(len(block) for block in blocks)
        output = len(step.text) + sum(len(call.name) + len(json.dumps(call.args)) for call in step.calls)
        return Usage(
            input_tokens=tokens(total),
            output_tokens=tokens(output),
            cache_read_tokens=tokens(shared),
            cache_write_tokens=tokens(total) - tokens(shared),
        )


def price_provider_for(model: str) -> str | None:
    """The genai-prices provider id of a model name: anthropic for claude, openai for gpt and o-series."""
    name = model.lower()
    if name.startswith("claude"):
        return "anthropic"
    if name.startswith(("gpt", "o1", "o3", "o4", "chatgpt")):
        return "openai"
    if name.startswith("gemini"):
        return "google"
    return None


def tokens(chars: int) -> int:
    """Roughly how many tokens a text of this many characters is."""
    return (chars + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def chunks(text: str, size: int) -> list[str]:
    """Split text into pieces of about `size` characters, breaking after spaces where possible."""
    pieces, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        space = text.rfind(" ", start, end)
        if end < len(text) and space > start:
            end = space + 1
        pieces.append(text[start:end])
        start = end
    return pieces


def prompt_blocks(request: ModelRequest) -> list[str]:
    """The request as the blocks a prompt cache sees, in order: system, tools, then each message."""
    tools = json.dumps([[t.name, t.description, t.parameters] for t in request.tools], sort_keys=True)
    return [request.system, tools] + [_render(message) for message in request.messages]


def acknowledge(ctx: Context) -> str:
    """A first sentence that shows the supervisor's message was heard."""
    said = " ".join(SPEAKER_TAG.sub("", ctx.reprompt).split())
    said = said if len(said) <= 90 else said[:87] + "..."
    quoted = f'"{said}"' if said.endswith((".", "!", "?")) else f'"{said}".'
    return ctx.pick(f"Understood: {quoted}", f"Got it, {quoted}", f"Noted: {quoted}") + " Picking up where I left off."


def _rerun_interrupted(ctx: Context) -> Step | None:
    """Run again the calls the supervisor cut short (a stop, a crash before resume), as a model would, a few times at most."""
    cut = list(itertools.takewhile(lambda exchange: INTERRUPTED in exchange.output, reversed(ctx.exchanges)))
    if not cut or sum(INTERRUPTED in exchange.output for exchange in ctx.exchanges) > MAX_RERUNS:
        return None
    calls = tuple(Call(exchange.name, exchange.args) for exchange in reversed(cut))
    return Step("That call was cut short before it finished; running it again.", calls)


def _loop_step(ctx: Context, first: Step) -> Step:
    """The first run of a looping agent: its first call, again and again, until it gives up."""
    repeats = ctx.turn - 1
    if repeats >= MAX_LOOP_TURNS or not first.calls:
        return Step(f"I have made the same call {repeats} times and keep getting the same result. Giving up: task failed.")
    if repeats == 0:
        return Step(first.text, first.calls[:1])
    again = ctx.pick(
        "That result doesn't look complete to me. Running the same call again to be sure.",
        "Hmm, I'm not confident in that output; trying it once more.",
        "Let me repeat that call and compare.",
    )
    return Step(again, first.calls[:1])


def _render(message: Message) -> str:
    pieces = [message.role]
    for part in message.parts:
        if isinstance(part, TextPart):
            pieces.append(part.text)
        elif isinstance(part, ToolCallPart):
            pieces.append(f"{part.call_id} {part.name} {json.dumps(part.args, sort_keys=True)}")
        elif isinstance(part, ToolResultPart):
            pieces.append(f"{part.call_id} {part.ok} {part.output}")
    return "\n".join(pieces)
