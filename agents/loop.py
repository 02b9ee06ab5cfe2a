"""tokenmaxx's own runner, one agent's work: turn after turn (stream a reply, run its tool calls, feed the results back).

The loop only talks to the world through its `AgentHost` (events out, approvals, budgets,
the pause gate), so the supervisor owns every decision that spans agents. A turn is
interrupted by cancelling it: the conversation keeps what was said, and every event the
turn produced is already in the log, so `conversation.rebuild` gives the same messages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tokenmaxx.agents.artifact_watch import digest
from tokenmaxx.agents.conversation import Conversation, rebuild
from tokenmaxx.agents.providers.base import (
    Message,
    ModelRequest,
    Provider,
    ProviderFailure,
    ProviderNotice,
    ReplyAccumulator,
    TextDelta,
    TextPart,
    ToolCallPart,
    ToolCallRequested,
    ToolResultPart,
    ToolSpec,
    Usage,
    UsageReport,
)
from tokenmaxx.agents.providers.errors import arguments_error
from tokenmaxx.agents.providers.retry import backoff_delay
from tokenmaxx.agents.runners.base import AgentHost, TurnResult
from tokenmaxx.agents.summary import reports_failure, summary_of
from tokenmaxx.agents.tools import ToolOutcome, Workspace, run_tool
from tokenmaxx.sessions import events as ev

TEXT_FLUSH_S = 0.05
TEXT_FLUSH_MAX_S = 0.25
READ_PACE_MAX_S = 0.1
"""The longest a stream lets chunks wait between reads: a reply's end is seen that late at worst."""
BUSY_FLEET = 100
"""Up to this many agents running, each agent's text is an event every 50 ms; above it, less often."""
MAX_ATTEMPTS = 6
CHARS_PER_TOKEN = 4


def text_flush_interval(running: int) -> float:
    """How often an agent's streamed text becomes an event when `running` agents run.

    50 ms for up to BUSY_FLEET agents; beyond, it grows with the fleet (to at most 250 ms) so
    the fleet's text events stay near 2,000 a second: at 500 agents a pane no one can read
    50 ms apart would otherwise cost more than the tokens it shows.
    """
    return min(TEXT_FLUSH_MAX_S, TEXT_FLUSH_S * max(1.0, running / BUSY_FLEET))


class TextCoalescer:
    """Collects streamed text and emits it at most every 50 ms per agent."""

    def __init__(self, flush: Callable[[str], None], *, every_s: float = TEXT_FLUSH_S) -> None:
        self._flush = flush
        self._every_s = every_s
        self._buffer: list[str] = []
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None

    def add(self, text: str) -> None:
        self._buffer.append(text)
        wait = self._last + self._every_s - time.monotonic()
        if wait <= 0:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._buffer:
            text, self._buffer = "".join(self._buffer), []
            self._last = time.monotonic()
            self._flush(text)


class AgentLoop:
    """Drives one agent's conversation with its provider and tools."""

    def __init__(
        self,
        *,
        agent: str,
        role: str,
        model: str,
        system: str,
        tools: tuple[ToolSpec, ...],
        max_tokens: int,
        provider: Provider,
        provider_slots: asyncio.Semaphore | None,
        workspace: Workspace,
        host: AgentHost,
        conversation: Conversation | None = None,
    ) -> None:
        self.agent = agent
        self.role = role
        self.model = model
        self.system = system
        self.tools = tools
        self.max_tokens = max_tokens
        self.provider = provider
        self.provider_slots = provider_slots
        self.workspace = workspace
        self.host = host
        self.conversation = conversation or Conversation()
        self.turn = 0
        self._tool_names = {t.name for t in tools}

    def start(self, prompt: str) -> None:
        self.conversation.start(Message("user", (TextPart(prompt),)))

    def note(self, text: str) -> None:
        self.conversation.note(text)

    def restore(self, events: Sequence[ev.Event]) -> None:
        self.conversation = rebuild(events, self.agent)

    async def aclose(self) -> None:
        return None

    async def run(self) -> TurnResult:
        """Take turns until the model stops or the agent cannot go on."""
        while True:
            result = await self.take_turn()
            if not result.more:
                return result

    async def take_turn(self) -> TurnResult:
        await self.host.safe_point(self.agent)
        request = self._request()
        refusal = await self.host.budget_refusal(self.agent, _estimate_tokens(request), self.max_tokens)
        if refusal:
            return TurnResult(False, "over_budget", refusal)
        self.turn += 1
        self.conversation.begin_turn()
        self.host.emit(ev.TurnStarted(agent=self.agent, turn=self.turn))
        reply = await self._reply_with_retries()
        if isinstance(reply, TurnResult):
            return reply
        if not reply.calls:
            said = "".join(reply.text)
            return TurnResult(False, "failed" if reports_failure(said) else "done", summary_of(said))
        for call in reply.calls:
            await self.host.safe_point(self.agent)
            await self._run_call(call)
        return TurnResult(True)

    def _request(self) -> ModelRequest:
        return ModelRequest(
            model=self.model,
            system=self.system,
            messages=self.conversation.request_messages(),
            tools=self.tools,
            max_tokens=self.max_tokens,
            agent=self.agent,
            role=self.role,
            read_pace_s=min(self.host.text_flush_s(), READ_PACE_MAX_S),
        )

    async def _reply_with_retries(self) -> ReplyAccumulator | TurnResult:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await self._reply(self._request(), attempt)
            except ProviderFailure as failure:
                delay = backoff_delay(attempt - 1, failure.retry_after_s) if failure.retryable else None
                self._report_failure(failure, delay if attempt < MAX_ATTEMPTS else None)
                if delay is None or attempt == MAX_ATTEMPTS:
                    return TurnResult(False, "failed", f"{failure.kind}: {failure.message}")
                self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="retrying", reason=f"{failure.kind}, retry in {delay:.1f}s"))
                self.conversation.discard_reply()
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _reply(self, request: ModelRequest, attempt: int = 1) -> ReplyAccumulator:
        reply = ReplyAccumulator()
        self._streamed_chars = 0
        self._prompt_estimate = _estimate_tokens(request)
        coalescer = TextCoalescer(self._emit_text, every_s=self.host.text_flush_s())
        slots = self.provider_slots or _NO_LIMIT
        async with slots:
            streaming = self._announce_attempt(attempt)
            try:
                async for item in self.provider.stream(request):
                    if not streaming:
                        streaming = self._announce_attempt(1)
                    reply.add(item)
                    if isinstance(item, TextDelta):
                        self._streamed_chars += len(item.text)
                        coalescer.add(item.text)
                    elif isinstance(item, ToolCallRequested):
                        coalescer.flush()
                        self.conversation.tool_call(ToolCallPart(item.call_id, item.name, item.args, item.raw_args))
                    elif isinstance(item, UsageReport):
                        coalescer.flush()
                        self._report_usage(self._filled(item.usage), estimated=item.usage.input_tokens == 0)
                    elif isinstance(item, ProviderNotice):
                        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="streaming", reason=item.text))
            except asyncio.CancelledError:
                if reply.usage is None:
                    self._report_usage(self._filled(Usage()), estimated=True)
                raise
            finally:
                coalescer.flush()
        return reply

    def _announce_attempt(self, attempt: int) -> bool:
        """Say the reply is streaming on a first attempt, or connecting on a retry; True when streaming was said."""
        if attempt == 1:
            self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="streaming"))
            return True
        reason = f"connecting, attempt {attempt} of {MAX_ATTEMPTS}"
        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="retrying", reason=reason))
        return False

    def _filled(self, usage: Usage) -> Usage:
        """`usage` with what the server left at 0 estimated: input from the request, output from the text so far."""
        return Usage(
            input_tokens=usage.input_tokens or self._prompt_estimate,
            output_tokens=usage.output_tokens or -(-self._streamed_chars // CHARS_PER_TOKEN),
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            server_cost_usd=usage.server_cost_usd,
        )

    def _emit_text(self, text: str) -> None:
        self.conversation.text(text)
        self.host.emit(ev.Text(agent=self.agent, text=text))

    def _report_usage(self, usage: Usage, *, estimated: bool) -> None:
        report_usage(self.host, self.agent, self.provider.name, self.model, usage, estimated=estimated, simulated=self.provider.simulated)

    def _report_failure(self, failure: ProviderFailure, retry_in: float | None) -> None:
        self.host.emit(
            ev.ProviderError(agent=self.agent, error_kind=failure.kind, message=failure.message, retry_in_s=retry_in)
        )
        if failure.billed is not None:
            self._report_usage(self._filled(failure.billed), estimated=True)

    async def _run_call(self, call: ToolCallPart) -> None:
        self.host.emit(
            ev.ToolCall(agent=self.agent, call_id=call.call_id, tool=call.name, args=call.args, raw_args=call.raw_args)
        )
        started = time.monotonic()
        outcome = await self._outcome(call)
        self.conversation.tool_result(ToolResultPart(call.call_id, outcome.output, outcome.ok))
        self.host.emit(
            ev.ToolResult(
                agent=self.agent,
                call_id=call.call_id,
                ok=outcome.ok,
                output=outcome.output,
                duration_s=round(time.monotonic() - started, 3),
            )
        )
        for path in outcome.written:
            await self._report_artifact(path)

    async def _outcome(self, call: ToolCallPart) -> ToolOutcome:
        if call.raw_args is not None:
            return ToolOutcome(False, _invalid_arguments(call), [])
        if call.name not in self._tool_names:
            return ToolOutcome(False, f"unknown tool {call.name!r}; this agent has: {', '.join(sorted(self._tool_names))}", [])
        policy = await self.host.policy(self.agent, call.name)
        if policy == "deny":
            return ToolOutcome(False, f"{call.name} is not allowed for this agent (policy: deny)", [])
        if policy == "ask":
            approved, by = await self.host.approval(self.agent, call)
            if not approved:
                return ToolOutcome(False, f"{call.name} was denied by {by}", [])
        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="tool", reason=call.name))
        return await run_tool(call.name, call.args, self.workspace)

    async def _report_artifact(self, path: Path) -> None:
        try:
            size, sha256 = await digest(path)
        except OSError:
            return
        relative = path.relative_to(self.workspace.out_root).as_posix()
        self.host.emit(ev.Artifact(agent=self.agent, path=relative, bytes=size, sha256=sha256))


class _Unlimited:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_LIMIT = _Unlimited()


def _invalid_arguments(call: ToolCallPart) -> str:
    raw = call.raw_args or ""
    shown = raw if len(raw) <= 200 else raw[:200] + "..."
    return (
        f"{call.name} was not run: its arguments were {arguments_error(raw)}. "
        f"You sent: {shown}\nSend the call again with the arguments as one JSON object."
    )


def report_usage(
    host: AgentHost,
    agent: str,
    provider: str,
    model: str,
    usage: Usage,
    *,
    estimated: bool,
    simulated: bool = False,
    harness_cost_usd: float | None = None,
) -> None:
    """Record one reply's usage, priced by the host (with a harness's own figure beside it, where it gives one)."""
    cost, saved = host.price(agent, usage)
    host.emit(
        ev.UsageReported(
            agent=agent,
            provider=provider,
            model=model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=cost,
            server_cost_usd=usage.server_cost_usd,
            cache_saved_usd=saved,
            estimated=estimated,
            simulated=simulated,
            harness_cost_usd=harness_cost_usd,
        )
    )


def _estimate_tokens(request: ModelRequest) -> int:
    chars = len(request.system) + sum(len(t.description) + len(str(t.parameters)) for t in request.tools)
    for message in request.messages:
        for part in message.parts:
            chars += len(getattr(part, "text", "") or getattr(part, "output", "") or str(getattr(part, "args", "")))
    return chars // CHARS_PER_TOKEN + 1
