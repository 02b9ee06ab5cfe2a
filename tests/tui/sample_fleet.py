"""A deterministic eight-agent fleet in every state worth seeing, for pilot and snapshot tests."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.sessions import events as ev
from tests.tui.fake_fleet import NOW, T0, FakeFleet

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">\n  <polyline points="0,90 50,60 100,40 150,20" />\n</svg>\n'
SUMMARY = "# Error summary\n\n- **timeouts**: 41\n- **auth**: 3\n"


def _queued(name: str, role: str, provider: str, model: str, **extra: object) -> ev.AgentQueued:
    return ev.AgentQueued(agent=name, role=role, provider=provider, model=model, task=f"the {role} task", ts=T0, **extra)  # type: ignore[arg-type]


def _status(name: str, status: str, at: float, **extra: object) -> ev.AgentStatusChanged:
    return ev.AgentStatusChanged(agent=name, status=status, ts=T0 + at, **extra)  # type: ignore[arg-type]


def _usage(name: str, provider: str, model: str, at: float, tokens: tuple[int, int, int], cost: float | None, **extra: object) -> ev.UsageReported:
    inp, out, cached = tokens
    return ev.UsageReported(
        agent=name, provider=provider, model=model, input_tokens=inp, output_tokens=out,
        cache_read_tokens=cached, cost_usd=cost, ts=T0 + at, **extra,  # type: ignore[arg-type]
    )


def _start(name: str, at: float) -> list[ev.Event]:
    return [_status(name, "starting", at, iteration=1), ev.TurnStarted(agent=name, turn=1, ts=T0 + at), _status(name, "streaming", at)]


def sample_events() -> list[ev.Event]:
    """The session, in time order: a budget of $5, eight agents, one hundred and twenty-five seconds in."""
    return sorted(_all_events(), key=lambda event: event.ts)


def _all_events() -> list[ev.Event]:
    return [
        ev.SessionStarted(name="sample fleet", plan="fleet.toml", cwd="/repo", version="0.1.0", ts=T0),
        ev.PlanLoaded(path="fleet.toml", agents=["charts", "logs", "facts", "deck", "critic", "local", "flaky", "review"], budget_usd=5.0, ts=T0),
        _queued("charts", "chart-builder", "sim", "claude-sonnet-4-6"),
        _queued("logs", "log-analyst", "anthropic", "claude-haiku-4-5"),
        _queued("facts", "fact-checker", "openai", "gpt-5-mini"),
        _queued("deck", "deck-builder", "sim", "claude-sonnet-4-6"),
        _queued("critic", "critic", "sim", "claude-sonnet-4-6", loop_times=5),
        _queued("local", "log-analyst", "ollama", "llama3.2"),
        _queued("flaky", "chart-builder", "anthropic", "claude-sonnet-4-6"),
        _queued("review", "critic", "sim", "claude-sonnet-4-6", after=["deck"]),
        *_charts(),
        *_logs(),
        *_facts(),
        *_deck(),
        *_critic(),
        *_local(),
        *_flaky(),
        _status("review", "waiting", 1, reason="after deck"),
    ]


def _charts() -> list[ev.Event]:
    return [
        *_start("charts", 2),
        ev.Text(agent="charts", text="Reading git log for line counts.\nFound 214 commits since March.\n", ts=T0 + 10),
        ev.ToolCall(agent="charts", call_id="c1", tool="write_file", args={"path": "loc.svg"}, ts=T0 + 20),
        ev.ToolResult(agent="charts", call_id="c1", ok=True, output="wrote loc.svg (180 bytes)", duration_s=0.1, ts=T0 + 21),
        ev.Artifact(agent="charts", path="charts/loc.svg", bytes=len(SVG), sha256="a1", ts=T0 + 21),
        _usage("charts", "sim", "claude-sonnet-4-6", 80, (4200, 900, 3000), 0.0231, simulated=True),
        ev.TurnStarted(agent="charts", turn=2, ts=T0 + 81),
        _status("charts", "streaming", 81),
        ev.Text(agent="charts", text="The chart shows steady growth; now writing the caption", ts=T0 + 120),
    ]


def _logs() -> list[ev.Event]:
    return [
        *_start("logs", 3),
        ev.Text(agent="logs", text="Scanning error logs by root cause.\n", ts=T0 + 30),
        _usage("logs", "anthropic", "claude-haiku-4-5", 95, (12000, 1500, 8000), 0.0142, cache_saved_usd=0.0065),
        ev.ToolCall(agent="logs", call_id="l1", tool="run_command", args={"cmd": "grep -c ERROR app.log"}, ts=T0 + 110),
        _status("logs", "tool", 110, reason="run_command"),
    ]


def _facts() -> list[ev.Event]:
    return [
        *_start("facts", 4),
        ev.Text(agent="facts", text="Checking claim 3 of 7 against the source.\n", ts=T0 + 40),
        _usage("facts", "openai", "gpt-5-mini", 60, (3000, 400, 0), 0.0019),
        ev.ApprovalRequested(agent="facts", call_id="f1", tool="run_command", args={"cmd": "curl -s https://example.org/stats"}, ts=T0 + 100),
        _status("facts", "awaiting_approval", 100, reason="run_command"),
    ]


def _deck() -> list[ev.Event]:
    return [
        *_start("deck", 5),
        ev.Text(agent="deck", text="Outlining slides.\nSlide 1: the problem\n", ts=T0 + 15),
        _usage("deck", "sim", "claude-sonnet-4-6", 30, (2500, 600, 0), 0.0165, simulated=True),
        ev.AgentFlagged(agent="deck", flag="stalled", detail="no output for 90s", ts=T0 + 120),
    ]


def _critic() -> list[ev.Event]:
    return [
        _status("critic", "starting", 6, iteration=1),
        _usage("critic", "sim", "claude-sonnet-4-6", 40, (2000, 300, 0), 0.0105, simulated=True),
        _status("critic", "starting", 41, iteration=2),
        _usage("critic", "sim", "claude-sonnet-4-6", 70, (2000, 300, 0), 0.0105, simulated=True),
        _status("critic", "starting", 71, iteration=3),
        ev.TurnStarted(agent="critic", turn=4, ts=T0 + 72),
        ev.ToolCall(agent="critic", call_id="k1", tool="read_file", args={"path": "deck.html"}, ts=T0 + 90),
        _status("critic", "tool", 90, reason="read_file"),
        ev.AgentFlagged(agent="critic", flag="looping", detail="read_file deck.html 4 times", ts=T0 + 118),
    ]


def _local() -> list[ev.Event]:
    return [
        *_start("local", 2),
        ev.Text(agent="local", text="Summary written to summary.md\n", ts=T0 + 50),
        _usage("local", "ollama", "llama3.2", 52, (5000, 800, 0), None),
        ev.Artifact(agent="local", path="local/summary.md", bytes=len(SUMMARY), sha256="b2", ts=T0 + 53),
        ev.AgentFinished(agent="local", outcome="done", summary="Wrote summary.md with 2 root causes.", ts=T0 + 55),
    ]


def _flaky() -> list[ev.Event]:
    return [
        *_start("flaky", 8),
        ev.ProviderError(agent="flaky", error_kind="rate_limit", message="429 too many requests", retry_in_s=30, ts=T0 + 110),
        _status("flaky", "retrying", 110, reason="rate_limit, retry in 30.0s"),
    ]


def sample_fleet(out_root: Path | None = None, *, live: bool = True) -> FakeFleet:
    """The sample fleet; with `out_root`, its two artifacts exist as files there."""
    if out_root is not None:
        (out_root / "charts").mkdir(parents=True, exist_ok=True)
        (out_root / "charts" / "loc.svg").write_text(SVG)
        (out_root / "local").mkdir(parents=True, exist_ok=True)
        (out_root / "local" / "summary.md").write_text(SUMMARY)
    fleet = FakeFleet(live=live, out_root=out_root)
    fleet.feed(*sample_events())
    return fleet


def clock() -> float:
    """The sample's fixed now."""
    return NOW
