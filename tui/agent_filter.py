"""Which agents a view shows and in what order: a text filter, a status group and a sort key. Pure."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tokenmaxx.sessions.state import AgentState

STATUS_GROUPS: tuple[str, ...] = ("all", "active", "flagged", "finished")
SORT_KEYS: tuple[str, ...] = ("plan", "status", "cost", "tokens", "time")
_STATUS_ORDER = {
    status: rank
    for rank, status in enumerate(
        ("awaiting_approval", "retrying", "streaming", "tool", "starting", "paused", "waiting", "queued",
         "failed", "over_budget", "killed", "skipped", "done")
    )
}


@dataclass(frozen=True)
class AgentFilter:
    """A `/` filter: a case-insensitive regex (plain text if it is not one), `!` in front to invert."""

    text: str = ""
    group: str = "all"

    @property
    def invert(self) -> bool:
        return self.text.startswith("!")

    @property
    def pattern(self) -> str:
        return self.text[1:] if self.invert else self.text

    @property
    def regex_error(self) -> str | None:
        """Why the pattern is not a regex (it is then matched as plain text), or None."""
        try:
            re.compile(self.pattern)
        except re.error as error:
            return str(error)
        return None

    def matches(self, agent: AgentState) -> bool:
        return _in_group(agent, self.group) and self._text_matches(agent)

    def _text_matches(self, agent: AgentState) -> bool:
        return text_matches(self.text, (agent.name, agent.role, agent.provider, agent.model, agent.status, *agent.flags))

    def with_group(self, group: str) -> AgentFilter:
        return AgentFilter(self.text, group)

    def with_text(self, text: str) -> AgentFilter:
        return AgentFilter(text, self.group)

    def next_group(self) -> AgentFilter:
        return self.with_group(STATUS_GROUPS[(STATUS_GROUPS.index(self.group) + 1) % len(STATUS_GROUPS)])

    def describe(self) -> str:
        parts = [] if self.group == "all" else [f"status: {self.group}"]
        if self.text:
            how = "excluding" if self.invert else "matching"
            parts.append(f"{how} {self.pattern!r}{' as text' if self.regex_error else ''}")
        return ", ".join(parts)


def text_matches(text: str, fields: Iterable[str]) -> bool:
    """Whether any of `fields` matches `text`: a case-insensitive regex (anchors apply to each field),
    plain text if it is not a regex; `!` in front inverts (no field may match)."""
    invert = text.startswith("!")
    pattern = text[1:] if invert else text
    if not pattern:
        return True
    try:
        regex = re.compile(pattern, re.IGNORECASE)
    except re.error:
        needle = pattern.lower()
        found = any(needle in field.lower() for field in fields)
    else:
        found = any(regex.search(field) for field in fields)
    return found != invert


def _in_group(agent: AgentState, group: str) -> bool:
    match group:
        case "active":
            return not agent.finished
        case "flagged":
            return bool(agent.flags) or bool(agent.pending)
        case "finished":
            return agent.finished
        case _:
            return True


def sort_key(key: str, now: float) -> Callable[[AgentState], object]:
    """A sort key over agents; the biggest spenders and the most urgent statuses sort first."""
    match key:
        case "status":
            return lambda a: (not a.flags, _STATUS_ORDER.get(a.status, 99))
        case "cost":
            return lambda a: (-a.cost_usd, -a.unknown_price_tokens)
        case "tokens":
            return lambda a: -(a.tokens.input + a.shown_output_tokens)
        case "time":
            return lambda a: -a.elapsed(now)
        case _:
            return lambda a: 0


def arrange(agents: Iterable[AgentState], flt: AgentFilter, key: str, reverse: bool, now: float) -> list[AgentState]:
    """The agents that pass `flt`, sorted by `key` (stable: plan order breaks ties)."""
    shown = [a for a in agents if flt.matches(a)]
    return sorted(shown, key=sort_key(key, now), reverse=reverse)
