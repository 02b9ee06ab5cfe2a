"""One Codex turn, translated: app-server notifications in, tokenmaxx events out through the host.

Only notifications of the turn in hand count (`turnId`): a turn that an interrupt cut short
may still be talking, and `thread/resume` replays the thread's old usage, which must never
be counted twice. `thread/tokenUsage/updated.last` is one model request, so each becomes one
`usage_reported`; `total` is cumulative per thread and only checked to move forward.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tokenmaxx.agents.loop import CHARS_PER_TOKEN, TextCoalescer, report_usage
from tokenmaxx.agents.providers.base import Usage
from tokenmaxx.agents.runners.base import AgentHost, TurnResult
from tokenmaxx.agents.summary import reports_failure, summary_of
from tokenmaxx.sessions import events as ev

Json = dict[str, Any]
COMMAND_TOOL = "run_command"
FILE_TOOL = "write_file"
OUTPUT_CAP = 32_000


@dataclass
class CodexTurn:
    """What one turn has said and done so far."""

    agent: str
    provider: str
    model: str
    host: AgentHost
    prompt_tokens: int
    turn_id: str = ""
    said: list[str] = field(default_factory=list)
    calls: dict[str, float] = field(default_factory=dict)
    denied: dict[str, str] = field(default_factory=dict)
    in_flight: bool = True
    streamed_chars: int = 0
    last_total: int = -1
    last_input: int = 0
    error: str = ""
    coalescer: TextCoalescer | None = None

    def __post_init__(self) -> None:
        self.coalescer = TextCoalescer(self._emit_text, every_s=self.host.text_flush_s())

    def owns(self, message: Json) -> bool:
        """Whether a notification belongs to this turn (those naming no turn do)."""
        params = message.get("params") or {}
        turn_id = params.get("turnId") or (params.get("turn") or {}).get("id")
        return not turn_id or turn_id == self.turn_id

    def text(self, delta: str) -> None:
        self.streamed_chars += len(delta)
        assert self.coalescer is not None
        self.coalescer.add(delta)

    def flush(self) -> None:
        assert self.coalescer is not None
        self.coalescer.flush()

    def item_started(self, item: Json) -> None:
        if item.get("type") == "commandExecution":
            self.announce(str(item.get("id")), COMMAND_TOOL, {"command": str(item.get("command", ""))})
        elif item.get("type") == "fileChange":
            self.announce(str(item.get("id")), FILE_TOOL, {"paths": _paths(item)})

    def item_completed(self, item: Json) -> None:
        kind = item.get("type")
        if kind == "agentMessage":
            self.flush()
            self.said.append(str(item.get("text") or ""))
        elif kind in ("commandExecution", "fileChange"):
            self.item_started(item)
            self._tool_result(str(item.get("id")), item)

    def announce(self, call_id: str, tool: str, args: Json) -> None:
        """Record a tool call the first time Codex mentions it (an approval request comes before `item/started`)."""
        if call_id in self.calls:
            return
        self.flush()
        self.calls[call_id] = time.monotonic()
        self.host.emit(ev.ToolCall(agent=self.agent, call_id=call_id, tool=tool, args=args))
        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="tool", reason=tool))

    def usage(self, params: Json) -> Usage | None:
        """The request a `thread/tokenUsage/updated` reports, once, or None when it reports nothing new."""
        token_usage = params.get("tokenUsage") or {}
        total = int((token_usage.get("total") or {}).get("totalTokens") or 0)
        last = token_usage.get("last") or {}
        if total <= self.last_total or not last:
            return None
        self.last_total = total
        self.flush()
        usage = Usage(
            input_tokens=int(last.get("inputTokens") or 0),
            output_tokens=int(last.get("outputTokens") or 0),
            cache_read_tokens=int(last.get("cachedInputTokens") or 0),
            cache_write_tokens=int(last.get("cacheWriteInputTokens") or 0),
            reasoning_tokens=int(last.get("reasoningOutputTokens") or 0),
        )
        self.last_input = usage.input_tokens
        self.in_flight, self.streamed_chars = False, 0
        self.report(usage, estimated=False)
        return usage

    def billed_estimate(self) -> None:
        """Record what a request cut short was likely billed: its input as the last one's, the output so far."""
        if not self.in_flight:
            return
        output = -(-self.streamed_chars // CHARS_PER_TOKEN)
        self.report(Usage(input_tokens=max(self.last_input, self.prompt_tokens), output_tokens=output), estimated=True)
        self.in_flight = False

    def report(self, usage: Usage, *, estimated: bool) -> None:
        report_usage(self.host, self.agent, self.provider, self.model, usage, estimated=estimated)

    def completed(self, turn: Json) -> TurnResult:
        """How the turn ended, from `turn/completed`."""
        self.flush()
        status = turn.get("status")
        said = "\n\n".join(text for text in self.said if text)
        if status == "completed":
            return TurnResult(False, "failed" if reports_failure(said) else "done", summary_of(said))
        error = (turn.get("error") or {}).get("message") or self.error or f"the turn ended {status}"
        return TurnResult(False, "failed", f"codex: {error}")

    def _tool_result(self, call_id: str, item: Json) -> None:
        started = self.calls.get(call_id, time.monotonic())
        ok, output = _outcome(item, self.denied.get(call_id))
        self.host.emit(
            ev.ToolResult(
                agent=self.agent, call_id=call_id, ok=ok, output=output, duration_s=round(time.monotonic() - started, 3)
            )
        )
        self.host.emit(ev.AgentStatusChanged(agent=self.agent, status="streaming"))
        self.in_flight, self.streamed_chars = True, 0

    def _emit_text(self, text: str) -> None:
        self.host.emit(ev.Text(agent=self.agent, text=text))


def _outcome(item: Json, denied_by: str | None) -> tuple[bool, str]:
    status = item.get("status")
    if status == "declined" or denied_by is not None:
        tool = COMMAND_TOOL if item.get("type") == "commandExecution" else FILE_TOOL
        return False, f"{tool} was denied by {denied_by or 'the supervisor'}"
    output = str(item.get("aggregatedOutput") or "")[:OUTPUT_CAP]
    code = item.get("exitCode")
    ok = status == "completed" and code in (0, None)
    note = f"[exit code {code}]" if code is not None else f"[{status}]"
    return ok, f"{output}\n{note}" if output else note


def _paths(item: Json) -> list[str]:
    changes = item.get("changes") or []
    return [str(change.get("path")) for change in changes if isinstance(change, dict) and change.get("path")]
