"""Sessions out of and into files: lossless JSONL (one event per line) and a Markdown transcript."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, assert_never

from pydantic import ValidationError

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.events import Event, UnknownEventKind, decode, encode
from tokenmaxx.sessions.safe_text import terminal_safe
from tokenmaxx.sessions.state import INTERVENTIONS

OUTPUT_MAX_LINES = 40
OUTPUT_MAX_CHARS = 4000
TEXT_ARG_CHARS = 100
HEADING_DEMOTION = 3  # an agent's "# Title" sits below the transcript's "### Turn"
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?=\s|$)")
_LANGUAGES = {
    ".py": "python",
    ".sh": "sh",
    ".md": "markdown",
    ".html": "html",
    ".svg": "xml",
    ".xml": "xml",
    ".csv": "csv",
    ".json": "json",
    ".toml": "toml",
    ".js": "javascript",
    ".css": "css",
}
_QUIET_STATUSES = frozenset({"queued", "waiting", "starting", "streaming", "tool", "awaiting_approval", "done"})
_DONE: dict[ev.Action, str] = {
    "kill": "killed",
    "pause": "paused",
    "resume": "resumed",
    "reprompt": "reprompted",
    "restart": "restarted",
    "approve": "approved a tool call of",
    "deny": "denied a tool call of",
    "accept": "accepted a deliverable of",
    "reject": "rejected a deliverable of",
    "stop_all": "stopped",
    "resume_all": "resumed",
    "queue_reprompt": "queued a reprompt for",
    "drop_reprompt": "dropped the queued reprompt of",
}
"""Each supervisor action as the verb of a sentence about its target."""
_ACTORS = {"resume": "tokenmaxx resume"}
"""Who a SupervisorAction's `by` names, where the bare word would read as the action."""


def actor(by: str) -> str:
    """Who a SupervisorAction's `by` names, as a reader should see it ("tokenmaxx resume", not a bare "resume")."""
    return _ACTORS.get(by, by)


class ImportFileError(ValueError):
    """A JSONL file that cannot be read back as events; the message names the file and line."""

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        self.path, self.line, self.problem = str(path), line, problem
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")


_RAW_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Characters JSON may carry raw that a terminal acts on (DEL, C1 controls, line separators, bidi overrides)."""


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def write_jsonl(events: Iterable[Event], fp: TextIO) -> None:
    """Write events one JSON object per line, in the shape `read_jsonl` reads back.

    The text stays exact (it is data), but every control a terminal would act on is written as a
    `\\uXXXX` escape, so an export printed to a terminal cannot drive it.
    """
    for event in events:
        fp.write(_RAW_IN_JSON.sub(_escaped, encode(event)))
        fp.write("\n")


def read_jsonl(path: Path | str) -> list[Event]:
    """Read the events of a JSONL file; blank lines are skipped, anything else must be an event."""
    return list(iter_jsonl(path))


def iter_jsonl(path: Path | str) -> Iterator[Event]:
    """The events of a JSONL file one by one, as `read_jsonl` reads them, without holding the file in memory."""
    try:
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, start=1):
                if line.strip():
                    yield _decode_line(path, number, line)
    except UnicodeDecodeError as error:
        raise ImportFileError(path, None, f"not UTF-8 text ({error.reason})") from error
    except OSError as error:
        raise ImportFileError(path, None, error.strerror or str(error)) from error


def _decode_line(path: Path | str, number: int, line: str) -> Event:
    try:
        event = decode(line)
    except UnknownEventKind as error:
        raise ImportFileError(path, number, f"unknown event kind {str(error)!r}") from None
    except ValidationError as error:
        raise ImportFileError(path, number, _summarise(error)) from None
    for name, value in event:
        if isinstance(value, float) and not math.isfinite(value):
            raise ImportFileError(path, number, f"{event.kind}.{name}: {value} is not a finite number")
    return event


def _summarise(error: ValidationError) -> str:
    problems = error.errors()
    first = problems[0]
    if first["type"] == "json_invalid":
        return f"invalid JSON ({first['ctx'].get('error', first['msg'])})" if "ctx" in first else "invalid JSON"
    location = ".".join(str(part) for part in first["loc"]) or "event"
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return f"{location}: {first['msg']}{more}"


@dataclass
class _AgentTotals:
    """What the summary table shows for one agent."""

    role: str = ""
    model: str = ""
    outcome: str = "unfinished"
    tokens: list[int] = field(default_factory=lambda: [0] * 5)
    cost_usd: float = 0.0
    unknown_price_tokens: int = 0
    harness_cost_usd: float | None = None

    def add(self, usage: ev.UsageReported) -> None:
        if usage.harness_cost_usd is not None:
            self.harness_cost_usd = (self.harness_cost_usd or 0.0) + usage.harness_cost_usd
        counts = (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens)
        for index, count in enumerate((*counts, usage.cache_write_tokens, usage.reasoning_tokens)):
            self.tokens[index] += count
        if usage.cost_usd is None:
            self.unknown_price_tokens += usage.input_tokens + usage.output_tokens
        else:
            self.cost_usd += usage.cost_usd


def to_markdown(events: Iterable[Event]) -> str:
    """A readable transcript: title, summary table, fleet events, then one section per agent.

    It is read in terminals and pagers, so escape sequences and controls show as placeholders; the JSONL keeps them.
    """
    events = list(events)
    by_agent: dict[str, list[Event]] = {}
    fleet: list[Event] = []
    for event in events:
        agent = getattr(event, "agent", None)
        (by_agent.setdefault(agent, []) if agent is not None else fleet).append(event)
    parts = [_title(events), _summary(events, by_agent), _fleet_section(fleet)]
    parts += [_agent_section(agent, agent_events) for agent, agent_events in by_agent.items()]
    return terminal_safe("\n\n".join(part for part in parts if part).rstrip() + "\n")


def _title(events: list[Event]) -> str:
    started = next((e for e in events if isinstance(e, ev.SessionStarted)), None)
    session_id = events[0].session_id if events else ""
    if started is None:
        return f"# Session {session_id}".rstrip()
    facts = [f"session `{session_id}`", f"started {_clock(started.ts)}", f"in `{started.cwd}`"]
    if started.plan:
        facts.append(f"plan `{started.plan}`")
    facts.append(f"tokenmaxx {started.version}")
    if events[-1].ts > started.ts:
        dead = sum(e.ts - before.ts for before, e in zip(events, events[1:]) if isinstance(e, ev.SessionResumed))
        facts.append(f"lasted {_duration(events[-1].ts - started.ts - dead)}")
        if dead > 0:
            facts.append(f"plus {_duration(dead)} interrupted")
    return f"# {started.name}\n\n" + " · ".join(facts)


def _summary(events: list[Event], by_agent: dict[str, list[Event]]) -> str:
    totals = {agent: _totals(agent_events) for agent, agent_events in by_agent.items()}
    ended = next((e for e in reversed(events) if isinstance(e, ev.SessionEnded)), None)
    whole = _AgentTotals(outcome=ended.status if ended else "no end recorded")
    for usage in (e for e in events if isinstance(e, ev.UsageReported)):
        whole.add(usage)
    header = "| agent | role | model | outcome | input | output | cache read | cache write | reasoning | cost |"
    rows = [header, "|---|---|---|---|--:|--:|--:|--:|--:|--:|"]
    rows += [_table_row(f"`{agent}`", row) for agent, row in totals.items()]
    rows.append(_table_row(f"**total, {len(totals)} agent{'s' if len(totals) != 1 else ''}**", whole))
    return "## Summary\n\n" + "\n".join(rows) + "\n\n" + _outcomes_line(events)


def _totals(agent_events: list[Event]) -> _AgentTotals:
    totals = _AgentTotals()
    for event in agent_events:
        if isinstance(event, ev.AgentQueued):
            totals.role, totals.model = event.role, f"{event.provider}/{event.model}"
        elif isinstance(event, ev.UsageReported):
            totals.add(event)
        elif isinstance(event, ev.AgentFinished):
            totals.outcome = event.outcome
    return totals


def _table_row(label: str, totals: _AgentTotals) -> str:
    cells = [label, totals.role, totals.model, totals.outcome, *(f"{count:,}" for count in totals.tokens)]
    cost = _cost(totals.cost_usd, totals.unknown_price_tokens) + _harness_total(totals)
    return "| " + " | ".join([*cells, cost]) + " |"


def _harness_total(totals: _AgentTotals) -> str:
    """The harness's own total beside ours, flagged when the two differ."""
    harness = totals.harness_cost_usd
    if harness is None:
        return ""
    flag = " (**differs**)" if costs_differ(totals.cost_usd if not totals.unknown_price_tokens else None, harness) else ""
    return f"; the harness says ${harness:,.4f}{flag}"


def _cost(cost_usd: float, unknown_price_tokens: int) -> str:
    known = f"${cost_usd:,.4f}"
    return f"{known} + {unknown_price_tokens:,} tokens of unknown price" if unknown_price_tokens else known


def _outcomes_line(events: list[Event]) -> str:
    verdicts = {(e.agent, e.path): e.verdict for e in events if isinstance(e, ev.ArtifactReview)}
    accepted = sum(1 for verdict in verdicts.values() if verdict == "accepted")
    # As the meter counts: an approval is its approve/deny action (not also its decision), and a review,
    # a resume after a crash or a resume of what stop-all paused is no intervention.
    interventions = sum(1 for e in events if isinstance(e, ev.SupervisorAction) and e.action in INTERVENTIONS)
    errors = sum(1 for e in events if isinstance(e, ev.ProviderError))
    artifacts = sum(1 for e in events if isinstance(e, ev.Artifact))
    return (
        f"Deliverables: {artifacts} written, {accepted} accepted, {len(verdicts) - accepted} rejected · "
        f"interventions: {interventions} · provider errors: {errors}"
    )


def _fleet_section(fleet: list[Event]) -> str:
    lines = [f"- {_clock(event.ts)} {_fleet_line(event)}" for event in fleet if _fleet_line(event)]
    return "## Fleet\n\n" + "\n".join(lines) if lines else ""


def _fleet_line(event: Event) -> str:
    if isinstance(event, ev.PlanLoaded):
        verb = "reloaded" if event.reload else "loaded"
        return f"plan {verb} `{event.path}`: {', '.join(event.agents) or 'no agents'}"
    if isinstance(event, ev.PlanRejected):
        return f"plan `{event.path}` rejected: {event.error}"
    if isinstance(event, ev.SupervisorAction):
        return _action_line(event, "the whole fleet")
    if isinstance(event, ev.SessionEnded):
        return f"session ended: **{event.status}**"
    if isinstance(event, ev.SessionResumed):
        return f"session resumed by tokenmaxx {event.version}: {', '.join(event.agents) or 'no agents'} go on"
    return ""


def _agent_section(agent: str, agent_events: list[Event]) -> str:
    blocks = [f"## Agent `{agent}`"]
    streamed: list[str] = []
    for event in agent_events:
        if isinstance(event, ev.Text):
            streamed.append(event.text)
            continue
        if streamed:
            blocks.append(_agent_text("".join(streamed)))
            streamed = []
        blocks.append(_agent_block(event))
    if streamed:
        blocks.append(_agent_text("".join(streamed)))
    return "\n\n".join(block for block in blocks if block)


def _agent_text(text: str) -> str:
    """An agent's own words, its headings demoted below the transcript's and a fence it left open closed."""
    lines: list[str] = []
    fence: str | None = None
    for line in text.strip().splitlines():
        marker = _FENCE.match(line)
        if marker and (fence is None or (marker.group(1).startswith(fence) and not marker.group(2).strip())):
            fence = marker.group(1) if fence is None else None
        elif fence is None and (heading := _HEADING.match(line)):
            line = "#" * min(len(heading.group(1)) + HEADING_DEMOTION, 6) + line[len(heading.group(1)) :]
        lines.append(line)
    if fence is not None:
        lines.append(fence)
    return "\n".join(lines)


def _agent_block(event: Event) -> str:  # noqa: C901 - one branch per kind, ending in assert_never
    match event:
        case ev.AgentQueued():
            return _queued_block(event)
        case ev.TurnStarted():
            return f"### Turn {event.turn}"
        case ev.ToolCall():
            return f"**Tool call** `{event.tool}` (`{event.call_id}`)\n\n" + _args_block(event.args)
        case ev.ToolResult():
            verdict = "ok" if event.ok else "failed"
            heading = f"**Result** of `{event.call_id}`: {verdict} in {event.duration_s:.2f} s"
            return heading + "\n\n" + _fenced(_truncated(event.output))
        case ev.ApprovalRequested():
            heading = f"> **Approval requested** for `{event.tool}` (`{event.call_id}`)"
            return heading + "\n\n" + _args_block(event.args)
        case ev.ApprovalDecided():
            return f"> **{'Approved' if event.approved else 'Denied'}** `{event.call_id}` by {event.by}"
        case ev.UsageReported():
            return _usage_line(event)
        case ev.AgentStatusChanged(inputs=inputs) if inputs:
            return "> **Given** by the agents it depends on: " + ", ".join(f"`{path}`" for path in inputs)
        case ev.AgentStatusChanged():
            reason = f": {event.reason}" if event.reason else ""
            return "" if event.status in _QUIET_STATUSES else f"> status **{event.status}**{reason}"
        case ev.ProviderError():
            retry = f", retrying in {round(event.retry_in_s, 1):g} s" if event.retry_in_s is not None else ""
            return f"> **Provider error** ({event.error_kind}{retry}): {event.message}"
        case ev.AgentFlagged():
            return f"> **Flagged {event.flag}**" + (f": {event.detail}" if event.detail else "")
        case ev.SupervisorAction():
            return "> " + _action_line(event, "this agent")
        case ev.Artifact():
            return f"**Artifact** `{event.path}` ({event.bytes:,} bytes, sha256 `{event.sha256[:12]}`)"
        case ev.ArtifactReview():
            note = f": {event.note}" if event.note else ""
            return f"> **Review**: `{event.path}` **{event.verdict}**{note}"
        case ev.AgentFinished():
            summary = f"\n\n{event.summary}" if event.summary else ""
            return f"**Finished: {event.outcome}**{summary}"
        case (
            ev.Text() | ev.PlanLoaded() | ev.PlanRejected() | ev.SessionStarted() | ev.SessionEnded() | ev.SessionResumed()
        ):
            return ""
        case _:
            assert_never(event)


def _queued_block(event: ev.AgentQueued) -> str:
    facts = [event.role, f"{event.provider}/{event.model}"]
    if event.after:
        facts.append("after " + ", ".join(f"`{name}`" for name in event.after))
    task = f"\n\n**Task:** {event.task}" if event.task else ""
    return "*" + " · ".join(facts) + "*" + task


def _usage_line(usage: ev.UsageReported) -> str:
    cost = "price unknown" if usage.cost_usd is None else f"${usage.cost_usd:,.4f}"
    estimate = ", estimated" if usage.estimated else ""
    return (
        f"*usage: {usage.input_tokens:,} in ({usage.cache_read_tokens:,} cached), "
        f"{usage.output_tokens:,} out, {cost}{estimate}{_server_cost(usage)}{_harness_turn(usage)}*"
    )


def _harness_turn(usage: ev.UsageReported) -> str:
    """The harness's own price for the whole turn this usage ends (compared in the summary table)."""
    harness = usage.harness_cost_usd
    return "" if harness is None else f"; the harness says ${harness:,.4f} for the turn"


def _server_cost(usage: ev.UsageReported) -> str:
    """The server's own price beside ours, flagged when the two differ by more than a cent in a hundred."""
    server = usage.server_cost_usd
    if server is None:
        return ""
    differs = costs_differ(usage.cost_usd, server)
    return f"; the server says ${server:,.4f}" + (" (**differs**)" if differs else "")


def costs_differ(ours: float | None, theirs: float) -> bool:
    """Whether another's price differs from ours by more than a cent in a hundred (or ours is unknown)."""
    return ours is None or abs(theirs - ours) > max(1e-6, 0.01 * max(theirs, ours))


def _action_line(action: ev.SupervisorAction, target: str) -> str:
    """One sentence: who did what to whom, e.g. '**watchdog** restarted this agent'."""
    who = actor(action.by)
    text = f": {action.text}" if action.text else ""
    return f"**{who}** {_DONE[action.action]} {target}{text}"


def _args_block(args: dict[str, Any]) -> str:
    """Short arguments as JSON; a long or multi-line text argument (a command, a file's content) as itself."""
    texts = {key: value for key, value in args.items() if isinstance(value, str) and _is_long_text(value)}
    rest = {key: value for key, value in args.items() if key not in texts}
    blocks = [_fenced(_json(rest), "json")] if rest or not texts else []
    blocks += [f"`{key}`:\n\n" + _fenced(_truncated(value), _language(key, args)) for key, value in texts.items()]
    return "\n\n".join(blocks)


def _is_long_text(value: str) -> bool:
    return "\n" in value.strip() or len(value) > TEXT_ARG_CHARS


def _language(key: str, args: dict[str, Any]) -> str:
    if key in ("command", "cmd", "script"):
        return "sh"
    path = args.get("path")
    suffix = Path(path).suffix.lower() if isinstance(path, str) else ""
    return _LANGUAGES.get(suffix, "")


def _json(value: Any) -> str:
    """Arguments on one line when short, indented when long."""
    line = json.dumps(value, ensure_ascii=False)
    return line if len(line) <= 100 else json.dumps(value, indent=2, ensure_ascii=False)


def _truncated(output: str) -> str:
    lines = output.splitlines()
    if len(lines) <= OUTPUT_MAX_LINES and len(output) <= OUTPUT_MAX_CHARS:
        return output
    kept = "\n".join(lines[:OUTPUT_MAX_LINES])[:OUTPUT_MAX_CHARS]
    return f"{kept}\n… (truncated: {len(lines):,} lines, {len(output):,} characters in all)"


def _fenced(body: str, language: str = "") -> str:
    longest = 0
    run = 0
    for char in body:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body.rstrip(chr(10))}\n{fence}"


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s" if minutes else f"{secs} s"
