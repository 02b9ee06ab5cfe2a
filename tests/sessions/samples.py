"""Sample events for the store and export tests: every kind once, with non-default values."""

from __future__ import annotations

from tokenmaxx.sessions import events as ev


def every_kind() -> list[ev.Event]:
    """One event of every kind, in the order a session could emit them (not yet stamped)."""
    return [
        ev.SessionStarted(
            name="demo fleet", plan="fleet.toml", cwd="/work/demo", version="0.1.0", prices="genai-prices 0.2.3"
        ),
        ev.PlanLoaded(path="fleet.toml", agents=["charts", "deck"], reload=True),
        ev.PlanRejected(path="fleet.toml", error="line 3: agents.deck.model: field required"),
        ev.SessionResumed(version="0.1.1", agents=["charts"]),
        ev.AgentQueued(
            agent="charts",
            role="chart-builder",
            provider="anthropic",
            model="claude-sonnet-4-6",
            after=["logs"],
            task="Chart lines of code over time.",
            system="You build charts.",
            tools=["read_file", "run_command"],
            loop_times=2,
        ),
        ev.AgentStatusChanged(agent="charts", status="streaming", reason="turn 1", iteration=1),
        ev.TurnStarted(agent="charts", turn=1),
        ev.Text(agent="charts", text="Reading the git log…\n"),
        ev.ToolCall(
            agent="charts", call_id="call_1", tool="run_command", args={"cmd": ["git", "log"], "timeout": 30}
        ),
        ev.ApprovalRequested(agent="charts", call_id="call_1", tool="run_command", args={"cmd": ["git", "log"]}),
        ev.ApprovalDecided(agent="charts", call_id="call_1", approved=True, by="watchdog"),
        ev.ToolResult(
            agent="charts", call_id="call_1", ok=False, output="fatal: not a git repository", duration_s=0.25
        ),
        ev.UsageReported(
            agent="charts",
            provider="anthropic",
            model="claude-sonnet-4-6",
            input_tokens=1200,
            output_tokens=300,
            cache_read_tokens=1000,
            cache_write_tokens=100,
            reasoning_tokens=50,
            cost_usd=0.0125,
            estimated=True,
            simulated=True,
        ),
        ev.ProviderError(agent="charts", error_kind="rate_limit", message="429 slow down", retry_in_s=2.5),
        ev.AgentFlagged(agent="charts", flag="looping", detail="run_command repeated 4 times"),
        ev.SupervisorAction(agent=None, action="reprompt", text="Use the other repo.", by="watchdog"),
        ev.Artifact(agent="charts", path="out/chart.html", bytes=2048, sha256="ab" * 32),
        ev.ArtifactReview(agent="charts", path="out/chart.html", verdict="rejected", note="axis unlabelled"),
        ev.AgentFinished(agent="charts", outcome="over_budget", summary="Ran out of budget."),
        ev.SessionEnded(status="failed"),
    ]
