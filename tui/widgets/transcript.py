"""Transcript: one agent's full history as readable lines: text, tool calls and results, reprompts, approvals, errors."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TypeAlias

from rich.style import Style
from rich.text import Text
from textual.color import Color, ColorParseError
from textual.events import Resize
from textual.geometry import Size
from textual.theme import Theme
from textual.widgets import RichLog

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.export import actor
from tokenmaxx.sessions.safe_text import terminal_safe
from tokenmaxx.tui.format import count, duration, plural

Line: TypeAlias = tuple[str, str]
"""(tone, text): the tone picks the colour."""

ARGS_CHARS = 300
RESULT_LINES = 8
_TONE_VARIABLES = {
    "text": "foreground",
    "turn": "primary",
    "tool": "agent-active",
    "ok": "success",
    "error": "agent-failed",
    "supervisor": "accent",
    "flag": "agent-stalled",
    "approval": "agent-approval",
    "artifact": "secondary",
    "done": "agent-done",
    "quiet": "agent-waiting",
}
_QUIET_STATUSES = frozenset({"streaming", "tool", "starting", "awaiting_approval"})


class TranscriptFolder:
    """Folds events into transcript lines; text is held back until its line is complete. Pure."""

    def __init__(self) -> None:
        self.partial = ""

    def feed(self, events: Iterable[ev.Event]) -> list[Line]:
        lines: list[Line] = []
        for event in events:
            if isinstance(event, ev.Text):
                *done, self.partial = (self.partial + event.text).split("\n")
                lines += [("text", line) for line in done]
                continue
            if self.partial:
                lines.append(("text", self.partial))
                self.partial = ""
            lines += describe(event)
        return lines


def describe(event: ev.Event) -> list[Line]:  # noqa: C901 - one arm per kind worth a line
    """The transcript lines of one non-text event."""
    match event:
        case ev.AgentQueued():
            return [("quiet", f"queued: {event.role} on {event.provider}/{event.model}"), ("text", f"task: {event.task}")]
        case ev.TurnStarted():
            return [("turn", f"── turn {event.turn} " + "─" * 30)]
        case ev.ToolCall():
            return [("tool", f"▶ {event.tool} {_args(event.args)}")]
        case ev.ToolResult():
            return _result(event)
        case ev.ApprovalRequested():
            why = [("approval", f"  asked because {event.reason}")] if event.reason else []
            return [("approval", f"? approval requested: {event.tool} {_args(event.args)}"), *why]
        case ev.ApprovalDecided():
            return [("ok" if event.approved else "error", f"{'✓ approved' if event.approved else '✗ denied'} by {event.by}")]
        case ev.SupervisorAction():
            said = f": {event.text}" if event.text else ""
            return [("supervisor", f"⚑ {actor(event.by)} → {event.action}{said}")]
        case ev.ProviderError():
            retry = f" (retry in {duration(event.retry_in_s)})" if event.retry_in_s is not None else ""
            return [("error", f"✗ {event.error_kind}: {event.message}{retry}")]
        case ev.AgentFlagged():
            return [("flag", f"⚑ FLAGGED {event.flag}: {event.detail}")]
        case ev.AgentStatusChanged(inputs=inputs) if inputs:
            return [("artifact", f"given: {', '.join(inputs)}")]
        case ev.AgentStatusChanged() if event.status not in _QUIET_STATUSES:
            reason = f" ({event.reason})" if event.reason else ""
            return [("quiet", f"· {event.status}{reason}")]
        case ev.UsageReported():
            return [("quiet", _usage(event))]
        case ev.Artifact():
            return [("artifact", f"📄 {event.path} ({plural(event.bytes, 'byte')})")]
        case ev.ArtifactReview():
            return [("ok" if event.verdict == "accepted" else "error", f"{event.verdict}: {event.path}")]
        case ev.AgentFinished():
            return [("done" if event.outcome == "done" else "error", f"■ {event.outcome}: {event.summary}")]
        case _:
            return []


def _args(args: dict[str, object]) -> str:
    text = json.dumps(args, ensure_ascii=False, default=str)
    return text if len(text) <= ARGS_CHARS else text[: ARGS_CHARS - 1] + "…"


def _result(event: ev.ToolResult) -> list[Line]:
    tone, mark = ("ok", "✓") if event.ok else ("error", "✗")
    output = event.output.splitlines() or [""]
    lines: list[Line] = [(tone, f"{mark} {duration(event.duration_s)}  {output[0]}")]
    lines += [("quiet", f"  {line}") for line in output[1:RESULT_LINES]]
    if len(output) > RESULT_LINES:
        lines.append(("quiet", f"  … {plural(len(output) - RESULT_LINES, 'more line')}"))
    return lines


def _usage(event: ev.UsageReported) -> str:
    cost = "$?" if event.cost_usd is None else f"${event.cost_usd:.4f}"
    approx = "~" if event.estimated else ""
    return (
        f"  usage {approx}in {count(event.input_tokens)} out {count(event.output_tokens)} "
        f"cache r {count(event.cache_read_tokens)} w {count(event.cache_write_tokens)} {cost}"
    )


class Transcript(RichLog):
    """A RichLog of transcript lines, coloured from the theme and rewritten when the theme changes.

    Lines wrap to the log's own width (RichLog's default `min_width` of 78 wrapped them wider than a
    narrow terminal's transcript column, which then cut them off).
    """

    DEFAULT_CSS = """
    Transcript { height: 1fr; border: round $panel-lighten-2; border-title-color: $primary; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, min_width=1, markup=False, highlight=False, max_lines=10_000)
        self.border_title = "transcript"
        self.events: list[ev.Event] = []
        self._folder = TranscriptFolder()
        self._styles: dict[str, Style] = {}
        self._partial_strips = 0

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._rewrite)
        self._styles = self._palette()

    def on_resize(self, event: Resize) -> None:
        self.call_later(self._show_partial)  # once RichLog, after this handler, knows its size

    def add(self, events: list[ev.Event]) -> None:
        """Append events; their complete lines appear at once, the line still streaming below them, controls as placeholders."""
        self.events += events
        self._retract_partial()
        for tone, text in self._folder.feed(events):
            self.write(Text(terminal_safe(text), style=self._styles.get(tone, Style())))
        self._show_partial()

    def reset(self) -> None:
        """Forget every event shown."""
        self.events, self._folder, self._partial_strips = [], TranscriptFolder(), 0
        self.clear()

    def _show_partial(self) -> None:
        """Show the line in progress as the last lines, to be taken back when it grows or ends."""
        self._retract_partial()
        if not self._folder.partial or not self._size_known:
            return
        before = len(self.lines) + self._start_line
        self.write(Text(terminal_safe(self._folder.partial), style=self._styles.get("text", Style())))
        self._partial_strips = len(self.lines) + self._start_line - before

    def _retract_partial(self) -> None:
        if not self._partial_strips:
            return
        del self.lines[-self._partial_strips :]
        self._partial_strips = 0
        self._line_cache.clear()
        self.virtual_size = Size(self._widest_line_width, len(self.lines))
        self.refresh()

    def _rewrite(self, theme: Theme) -> None:
        self._styles = self._palette()
        events = self.events
        self.reset()
        self.add(events)

    def _palette(self) -> dict[str, Style]:
        variables = self.app.theme_variables
        styles = {tone: Style(color=_colour(variables.get(name, ""))) for tone, name in _TONE_VARIABLES.items()}
        styles["turn"] += Style(bold=True)
        styles["quiet"] += Style(dim=True)
        return styles


def _colour(value: str) -> str | None:
    try:
        return Color.parse(value).hex
    except ColorParseError:
        return None
