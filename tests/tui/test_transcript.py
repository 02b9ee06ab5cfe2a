"""Transcript lines from events: text held until its line ends, every kind of event readable."""

from __future__ import annotations

from tokenmaxx.sessions import events as ev
from tokenmaxx.tui.widgets.transcript import TranscriptFolder, describe


def test_text_waits_for_its_line_and_is_flushed_by_the_next_event() -> None:
    folder = TranscriptFolder()
    assert folder.feed([ev.Text(agent="a", text="Hello, "), ev.Text(agent="a", text="world\nand mo")]) == [("text", "Hello, world")]
    lines = folder.feed([ev.Text(agent="a", text="re"), ev.ToolCall(agent="a", call_id="1", tool="read_file", args={"path": "x"})])
    assert lines == [("text", "and more"), ("tool", '▶ read_file {"path": "x"}')]


def test_tool_results_approvals_reprompts_errors_and_the_end_are_all_told() -> None:
    lines = TranscriptFolder().feed(
        [
            ev.TurnStarted(agent="a", turn=2),
            ev.ToolResult(agent="a", call_id="1", ok=False, output="boom\nline 2", duration_s=1.5),
            ev.ApprovalRequested(agent="a", call_id="2", tool="run_command", args={"cmd": "ls"}),
            ev.ApprovalDecided(agent="a", call_id="2", approved=True, by="user"),
            ev.SupervisorAction(agent="a", action="reprompt", text="try again"),
            ev.ProviderError(agent="a", error_kind="rate_limit", message="slow down", retry_in_s=3),
            ev.AgentFlagged(agent="a", flag="looping", detail="same call 4 times"),
            ev.UsageReported(agent="a", provider="p", model="m", input_tokens=1200, output_tokens=30, cost_usd=None),
            ev.AgentStatusChanged(agent="a", status="streaming"),
            ev.AgentFinished(agent="a", outcome="failed", summary="gave up"),
        ]
    )
    assert lines == [
        ("turn", "── turn 2 " + "─" * 30),
        ("error", "✗ 1s  boom"),
        ("quiet", "  line 2"),
        ("approval", '? approval requested: run_command {"cmd": "ls"}'),
        ("ok", "✓ approved by user"),
        ("supervisor", "⚑ user → reprompt: try again"),
        ("error", "✗ rate_limit: slow down (retry in 3s)"),
        ("flag", "⚑ FLAGGED looping: same call 4 times"),
        ("quiet", "  usage in 1.2k out 30 cache r 0 w 0 $?"),
        ("error", "■ failed: gave up"),
    ]


def test_a_fresh_start_names_what_the_dependencies_handed_over() -> None:
    given = ev.AgentStatusChanged(agent="deck", status="starting", reason="fresh start", inputs=["charts/loc.svg", "logs/failures.svg"])
    assert describe(given) == [("artifact", "given: charts/loc.svg, logs/failures.svg")]
    assert describe(ev.AgentStatusChanged(agent="deck", status="starting", reason="fresh start")) == []


def test_an_approval_request_says_why_it_asks() -> None:
    request = ev.ApprovalRequested(agent="a", call_id="2", tool="run_command", args={"command": "ls"}, reason="no sandbox: bwrap is missing")
    assert describe(request)[1] == ("approval", "  asked because no sandbox: bwrap is missing")
