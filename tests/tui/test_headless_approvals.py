"""Headless, a tool call that needs approval is shown by its tool and command, never by its internal call id."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.agents.providers.base import ModelRequest
from tests.agents.scripted import Step, reply
from tests.agents.test_supervisor import ONE_AGENT, run_to_end, supervisor
from tokenmaxx.tui.headless import ProgressPrinter

HOSTILE = "rm -rf build \x1b[2J\x1b]0;pwned\x07 && echo " + "x" * 200


def asks_to_run(request: ModelRequest) -> list[Step]:
    if any(m.role == "assistant" for m in request.messages):
        return reply("Could not run it; stopping.")
    return reply("Cleaning up.", ("run_command", {"command": HOSTILE}))


async def test_a_denied_call_names_its_tool_and_command_escaped_and_cut(tmp_path: Path) -> None:
    agents = ONE_AGENT + 'tools = ["run_command"]\n'
    sup, sink, provider = supervisor(tmp_path, asks_to_run, agents, headless=True)
    lines: list[str] = []
    sup.log.subscribe(ProgressPrinter(lines.append))
    await run_to_end(sup)
    denied = [line for line in lines if " denied " in line]
    assert len(denied) == 1, lines
    call_id = sink.of("a", "tool_call")[0].call_id
    assert call_id not in denied[0]
    assert "denied run_command rm -rf build \\x1b[2J\\x1b]0;pwned\\x07 && echo xxx" in denied[0]
    assert "\x1b" not in denied[0] and "…" in denied[0] and "pass --yes to allow" in denied[0]
