"""The demo's five agents (charts, logs after charts, factcheck, deck after all three, critique after deck) mid-run, for the pipeline view."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.sessions import events as ev
from tests.tui.fake_fleet import T0, FakeFleet

DEMO_AFTER = {"charts": [], "logs": ["charts"], "factcheck": [], "deck": ["charts", "logs", "factcheck"], "critique": ["deck"]}
ROLES = {"charts": "chart-builder", "logs": "log-analyst", "factcheck": "fact-checker", "deck": "deck-builder", "critique": "critic"}


def _usage(agent: str, at: float, cost: float) -> ev.UsageReported:
    return ev.UsageReported(agent=agent, provider="sim", model="sim-sonnet", input_tokens=4000, output_tokens=700, cost_usd=cost, simulated=True, ts=T0 + at)


def _artifact(agent: str, path: str, at: float) -> ev.Artifact:
    return ev.Artifact(agent=agent, path=path, bytes=100, sha256=path, ts=T0 + at)


def pipeline_events() -> list[ev.Event]:
    """charts done with two artifacts, logs streaming with a plan change waiting, factcheck stalled with its report,
    deck waiting on them, critique queued on a loop capped at $0.50."""
    queued = [
        ev.AgentQueued(agent=name, role=ROLES[name], provider="sim", model="sim-sonnet", after=after, task=f"the {name} task", ts=T0,
                       **({"loop_times": 0, "loop_until_usd": 0.5} if name == "critique" else {}))  # type: ignore[arg-type]
        for name, after in DEMO_AFTER.items()
    ]
    return [
        ev.SessionStarted(name="demo", plan="demo.toml", cwd="/repo", version="0.1.0", ts=T0),
        ev.PlanLoaded(path="demo.toml", agents=list(DEMO_AFTER), budget_usd=5.0, ts=T0),
        *queued,
        ev.AgentStatusChanged(agent="charts", status="streaming", iteration=1, ts=T0 + 1),
        ev.AgentStatusChanged(agent="factcheck", status="streaming", iteration=1, ts=T0 + 1),
        ev.AgentStatusChanged(agent="deck", status="waiting", reason="after charts, logs, factcheck", ts=T0 + 1),
        ev.AgentStatusChanged(agent="critique", status="waiting", reason="after deck", ts=T0 + 1),
        _usage("charts", 20, 0.038),
        _artifact("charts", "charts/loc.csv", 21),
        _artifact("charts", "charts/loc.svg", 22),
        ev.AgentFinished(agent="charts", outcome="done", summary="loc.svg has 6 points", ts=T0 + 23),
        ev.AgentStatusChanged(agent="logs", status="streaming", iteration=1, ts=T0 + 24),
        _usage("logs", 40, 0.0854),
        _artifact("logs", "logs/failures.csv", 41),
        _usage("factcheck", 30, 0.0215),
        _artifact("factcheck", "factcheck/report.md", 31),
        ev.AgentFlagged(agent="factcheck", flag="stalled", detail="no event for 7s", ts=T0 + 50),
        ev.PlanLoaded(path="demo.toml", agents=list(DEMO_AFTER), reload=True, changed_on_restart=["logs"], budget_usd=5.0, ts=T0 + 60),
    ]


def pipeline_fleet(out_root: Path | None = None) -> FakeFleet:
    fleet = FakeFleet(out_root=out_root)
    fleet.feed(*pipeline_events())
    return fleet
