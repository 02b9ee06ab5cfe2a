"""How numbers, money, durations and statuses read on screen, as Textual `Content` styled by theme variables."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from textual.content import Content

from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import AgentState
from tokenmaxx.tui.headless import money as money_plain

TONES = ("active", "waiting", "paused", "approval", "stalled", "looping", "done", "failed", "killed")
"""Each tone is a `-<tone>` class on a widget and a `$agent-<tone>` theme variable."""

_STATUS_TONES: dict[str, tuple[str, str]] = {
    "queued": ("queued", "waiting"),
    "waiting": ("waiting on deps", "waiting"),
    "starting": ("starting", "active"),
    "streaming": ("streaming", "active"),
    "tool": ("running a tool", "active"),
    "awaiting_approval": ("awaiting approval", "approval"),
    "retrying": ("retrying", "waiting"),
    "paused": ("paused", "paused"),
    "done": ("done", "done"),
    "failed": ("failed", "failed"),
    "killed": ("killed", "killed"),
    "over_budget": ("over budget", "failed"),
    "skipped": ("skipped", "waiting"),
}
FLAG_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "stalled": (("r", "reprompt"),),
    "looping": (("R", "restart"), ("k", "kill")),
    "burning": (("r", "reprompt"),),
    "over_budget": (),
}
"""The keys that answer each watchdog flag, best first; a restart keeps the agents after it, a kill skips them."""
FLAG_WHY: dict[str, str] = {"over_budget": "budget spent"}
"""Why a flag has no key to press: an agent over budget has stopped, and no key gives it more money."""


@dataclass(frozen=True)
class StatusView:
    """An agent's honest status: a short label, a detail and a tone."""

    label: str
    detail: str
    tone: str

    def content(self) -> Content:
        label = Content.styled(self.label.upper(), f"bold $agent-{self.tone}")
        detail = terminal_safe_line(self.detail)
        return label if not detail else Content.assemble(label, " ", Content.styled(detail, "$foreground 70%"))


def status_of(agent: AgentState, now: float) -> StatusView:
    """What an agent is doing, with flags ahead of the status they qualify."""
    if not agent.finished:
        for flag in ("stalled", "looping"):
            if flag in agent.flags:
                return StatusView(flag, _status_detail(agent, now), flag)
    label, tone = _STATUS_TONES.get(agent.status, (agent.status, "waiting"))
    if agent.pausing and not agent.finished:
        return StatusView(label, "pausing at its next safe point", "paused")
    return StatusView(label, _status_detail(agent, now), tone)


def _status_detail(agent: AgentState, now: float) -> str:
    match agent.status:
        case "waiting":
            return agent.reason
        case "tool":
            return agent.current_tool or agent.reason
        case "awaiting_approval":
            return agent.pending[0].tool if agent.pending else agent.reason
        case "retrying":
            return f"in {duration(agent.retry_at - now)}" if agent.retry_at and agent.retry_at > now else "now"
        case _:
            return ""


def count(n: int) -> str:
    """A token count in at most five characters: 950, 12.3k, 4.56M."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k" if n < 100_000 else f"{n // 1000}k"
    return f"{n / 1_000_000:.2f}M"


def duration(seconds: float) -> str:
    """Seconds as 42s, 3m05s or 1h02m."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def money(usd: float, unknown_tokens: int = 0, simulated: bool = False) -> Content:
    """Dollars: unknown prices as an amber '?', never $0; simulated prices labelled 'sim'."""
    parts: list[Content] = []
    if unknown_tokens and usd == 0:
        parts.append(Content.styled("?", "bold $cost-unknown"))
    else:
        parts.append(Content(money_plain(usd)))
        if unknown_tokens:
            parts.append(Content.styled("+?", "bold $cost-unknown"))
    if simulated:
        parts.append(Content.styled(" sim", "$cost-sim"))
    return Content.assemble(*parts)


def flag_hint(flag: str) -> str:
    """The keys that answer `flag` ("R restart · k kill"), or why none does."""
    keys = FLAG_KEYS.get(flag, (("enter", "look"),))
    if not keys:
        return FLAG_WHY.get(flag, "nothing to press")
    return " · ".join(f"{key} {action}" for key, action in keys)


def flag_badges(agent: AgentState) -> Content:
    """The agent's watchdog flags as loud badges, each with the keys that answer it."""
    badges = []
    for flag in agent.flags:
        tone = flag if flag in ("stalled", "looping") else "failed"
        badges.append(Content.styled(f" ⚑ {flag.upper().replace('_', ' ')} ", f"bold $background on $agent-{tone}"))
        badges.append(Content.styled(f" {flag_hint(flag)} ", "$foreground 70%"))
    return Content.assemble(*badges)


def doing(agent: AgentState, queued: str | None, idle: Content) -> Content:
    """What the agent does now, most urgent first: a queued reprompt, an approval, a tool, an error; else `idle`."""
    if queued is not None:
        return Content.styled(f"✉ queued reprompt: {one_line(queued)}", "italic $accent")
    if agent.pending:
        return Content.styled(f"needs approval: {terminal_safe_line(agent.pending[0].tool)} (A)", "bold $agent-approval")
    if agent.current_tool:
        return Content.styled(f"⚙ {terminal_safe_line(agent.current_tool)}", "$agent-active")
    if agent.last_error and agent.status in ("retrying", "failed"):
        return Content.styled(one_line(agent.last_error), "$agent-failed")
    return idle


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`n` and the noun that agrees with it: 1 agent, 2 agents, 0 agents."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


_NOT_STARTED = {"queued": "waiting", "waiting": "waiting", "paused": "paused"}


def quit_question(agents: Iterable[AgentState]) -> str | None:
    """What quitting would stop, agents waiting or paused told apart from running ones (None: nothing would stop)."""
    groups: dict[str, list[str]] = {}
    for agent in agents:
        if not agent.finished:
            groups.setdefault(_NOT_STARTED.get(agent.status, "still running"), []).append(agent.name)
    if not groups:
        return None
    parts = [f"{plural(len(names), 'agent')} {'is' if len(names) == 1 else 'are'} {how} ({_names(names)})" for how, names in groups.items()]
    one = sum(map(len, groups.values())) == 1
    return f"{' and '.join(parts)}. Quit and stop {'it' if one else 'them'}?"


def _names(names: list[str]) -> str:
    return f"{', '.join(names[:5])}{'…' if len(names) > 5 else ''}"


def one_line(text: str) -> str:
    """Text with its runs of whitespace, newlines included, made single spaces, and its controls shown as placeholders."""
    return terminal_safe_line(" ".join(text.split()))


def iteration_label(agent: AgentState) -> str:
    """`iter 2/5` for a counted loop, `iter 3 ≤$0.50` for a loop capped by spend, '' for an agent that runs once."""
    if agent.loop_times == 1 and agent.loop_until_usd is None:
        return ""
    label = f"iter {agent.iteration}/{agent.loop_times}" if agent.loop_times else f"iter {agent.iteration}"
    return f"{label} ≤{money_plain(agent.loop_until_usd)}" if agent.loop_until_usd is not None else label


def plan_note(agent: AgentState) -> str:
    """What a plan edit means for this agent, or ''."""
    if agent.withdrawn:
        return "withdrawn: removed from the plan before it started"
    if agent.removed_from_plan and not agent.finished:
        return "removed from plan, still running"
    if agent.removed_from_plan:
        return "removed from plan"
    if agent.change_on_restart:
        return "plan changed: takes effect on restart (R)"
    return ""
