"""Headless progress: one line per status change, flag, intervention and artifact; a summary table at the end."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.export import actor
from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import AgentState, FleetState

Echo = Callable[[str], None]
_QUIET_STATUSES = frozenset({"streaming", "tool", "starting"})
CALL_CHARS = 80


class ProgressPrinter:
    """A log subscriber that prints what a person watching a terminal wants to know."""

    def __init__(self, echo: Echo, start_ts: float | None = None) -> None:
        self.echo = echo
        self.start_ts = start_ts
        self._last_status: dict[str, str] = {}
        self._calls: dict[str, str] = {}  # call id -> the call as a person reads it, until its result

    def __call__(self, event: ev.Event, state: FleetState) -> None:
        line = self._line(event)
        if line:
            if self.start_ts is None:
                self.start_ts = event.ts
            self.echo(f"{event.ts - self.start_ts:7.1f}s  {terminal_safe_line(line)}")

    def _line(self, event: ev.Event) -> str | None:  # noqa: C901 - one arm per kind worth a line
        match event:
            case ev.SessionStarted():
                return f"session {event.session_id} started: {event.name}"
            case ev.PlanLoaded(reload=True):
                return _reloaded(event)
            case ev.PlanLoaded(notices=notices) if notices:
                return "\n".join(f"notice: {notice}" for notice in notices)
            case ev.PlanRejected():
                return f"plan edit rejected: {event.path}: {event.error} (the running plan goes on)"
            case ev.AgentQueued():
                after = f" (after {', '.join(event.after)})" if event.after else ""
                return f"{event.agent:<12} queued: {event.role} on {event.provider}/{event.model}{after}"
            case ev.AgentStatusChanged():
                return self._status(event)
            case ev.AgentFlagged():
                return f"{event.agent:<12} FLAGGED {event.flag}: {event.detail}"
            case ev.SupervisorAction():
                who = event.agent or "fleet"
                said = f": {event.text}" if event.text else ""
                return f"{who:<12} {actor(event.by)} -> {event.action}{said}"
            case ev.ProviderError():
                retry = f", retry in {event.retry_in_s:.1f}s" if event.retry_in_s is not None else ""
                return f"{event.agent:<12} provider error {event.error_kind}: {event.message}{retry}"
            case ev.ToolCall():
                self._calls[event.call_id] = call_text(event.tool, event.args)
                return None
            case ev.ToolResult():
                self._calls.pop(event.call_id, None)
                return None
            case ev.ApprovalDecided():
                verdict = "approved" if event.approved else "denied"
                return f"{event.agent:<12} {verdict} {self._calls.get(event.call_id, 'a tool call')} ({event.by})"
            case ev.Artifact():
                return f"{event.agent:<12} artifact {event.path} ({event.bytes:,} bytes)"
            case ev.AgentFinished():
                return f"{event.agent:<12} {event.outcome.upper()}: {_first_line(event.summary)}"
            case ev.SessionEnded():
                return f"session ended: {event.status}"
            case _:
                return None

    def _status(self, event: ev.AgentStatusChanged) -> str | None:
        previous = self._last_status.get(event.agent)
        self._last_status[event.agent] = event.status
        if event.status == previous or (event.status in _QUIET_STATUSES and previous in _QUIET_STATUSES):
            return None
        reason = f" ({event.reason})" if event.reason else ""
        return f"{event.agent:<12} {event.status}{reason}"


def _reloaded(event: ev.PlanLoaded) -> str:
    notes = [f"{len(event.agents)} agents"]
    if event.changed_on_restart:
        notes.append(f"changes on restart for {', '.join(event.changed_on_restart)}")
    if event.removed_still_running:
        notes.append(f"removed but still running: {', '.join(event.removed_still_running)}")
    if event.settings_kept:
        notes.append(f"kept until the next session: {', '.join(event.settings_kept)}")
    return f"plan reloaded: {event.path} ({'; '.join(notes)})"


def call_text(tool: str, args: Mapping[str, object], limit: int = CALL_CHARS) -> str:
    """A tool call on one line, as a person reads it: the tool and its command, path or arguments, escaped and cut."""
    shown = args.get("command", args.get("path"))
    said = str(shown) if isinstance(shown, str) else json.dumps(dict(args), ensure_ascii=False, default=str)
    said = "".join(c if c.isprintable() else repr(c)[1:-1] for c in said)
    said = said if len(said) <= limit else said[: limit - 1] + "…"
    return f"{tool} {said}"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 100 else line[:99] + "…"


def money(usd: float, unknown_tokens: int = 0, simulated: bool = False) -> str:
    """Dollars as shown everywhere: unknown prices as '?', simulated ones labelled."""
    text = f"${usd:,.4f}" if usd < 1 else f"${usd:,.2f}"
    if unknown_tokens:
        text = "?" if usd == 0 else text + "+?"
    return text + " (sim)" if simulated else text


def unpriced_note(tokens: int) -> str:
    """The tokens no price covers, to stand beside a cost that reads '?' or '+?'."""
    return f" (+{tokens:,} tok unpriced)" if tokens else ""


def cost_cell(usd: float, unknown_tokens: int, simulated: bool) -> str:
    """A summary's cost: the dollars, and beside them the tokens no price covers."""
    return money(usd, unknown_tokens, simulated) + unpriced_note(unknown_tokens)


def summary_table(state: FleetState) -> str:
    """The end-of-run table: one row per agent and a total."""
    header = ("agent", "outcome", "turns", "in", "out", "cache r/w", "cost", "artifacts")
    rows = [_row(agent) for agent in state.agents.values()]
    total = (
        "total",
        f"{sum(1 for a in state.agents.values() if a.outcome == 'done')}/{len(state.agents)} done",
        str(sum(a.turn for a in state.agents.values())),
        f"{state.tokens.input:,}",
        f"{state.tokens.output:,}",
        f"{state.tokens.cache_read:,}/{state.tokens.cache_write:,}",
        cost_cell(state.cost_usd, state.unknown_price_tokens, state.simulated),
        str(sum(len(a.artifacts) for a in state.agents.values())),
    )
    table = [header, *(safe_cells(row) for row in rows), total]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i in (0, 1, 7) else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))) for row in table]
    rule = "-" * len(lines[0])
    return "\n".join([lines[0], rule, *lines[1:-1], rule, lines[-1]])


def safe_cells(row: tuple[str, ...]) -> tuple[str, ...]:
    """A table row whose cells hold no control, newline or tab, so a hostile name can neither steer the terminal nor break the table."""
    return tuple(terminal_safe_line(cell) for cell in row)


def _row(agent: AgentState) -> tuple[str, ...]:
    return (
        agent.name,
        agent.outcome or agent.status,
        str(agent.turn),
        f"{agent.tokens.input:,}",
        f"{agent.tokens.output:,}",
        f"{agent.tokens.cache_read:,}/{agent.tokens.cache_write:,}",
        cost_cell(agent.cost_usd, agent.unknown_price_tokens, agent.simulated),
        ", ".join(a.path.split("/", 1)[-1] for a in agent.artifacts) or "-",
    )


def exit_code(state: FleetState) -> int:
    """1 when any agent failed, was killed, ran over budget or was skipped, else 0.

    Agents still unfinished (the TUI was closed, the session is `stopped`) count as neither.
    """
    counted = [a for a in state.agents.values() if not a.withdrawn]
    return 0 if counted and all(a.outcome == "done" or not a.finished for a in counted) else 1
