"""A mixed fleet: a built-in sim agent, then a Claude Code agent after it; run headless, then replayed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("claude_agent_sdk", reason="Claude Code tests need the extra: pip install -e '.[claude-code]'")

from tokenmaxx.sessions.store import Store  # noqa: E402
from tests.fakes import ServerUsage, anthropic_server  # noqa: E402
from tests.fakes.anthropic_server import AnthropicFakeServer  # noqa: E402

HANG_GUARD_S = 90
USAGE = ServerUsage(uncached_input=800, output=25)
PLAN = """name = "mixed"
workdir = "project"
out = "out"

[providers.sim]
kind = "sim"
speed = 50

[providers.fake]
kind = "anthropic"
base_url = "{base_url}"
api_key_env = "TEST_MODEL_KEY"

[roles.notetaker]
prompt = "You read files and take notes."

[[agents]]
name = "notes"
role = "notetaker"
task = "Read the project's files and write notes.md about them."

[[agents]]
name = "cc"
role = "critic"
provider = "fake"
model = "claude-sonnet-4-6"
harness = "claude-code"
task = "Review the notes."
after = ["notes"]
"""


@pytest.fixture
def server() -> Iterator[AnthropicFakeServer]:
    with AnthropicFakeServer() as fake:
        yield fake
    assert fake.errors == []


def tokenmaxx(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEST_MODEL_KEY": "sk-test-mixed", "CLAUDE_CODE_MAX_RETRIES": "0"}
    command = [sys.executable, "-m", "tokenmaxx.tui", *args, "--db", str(tmp_path / "s.db")]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=HANG_GUARD_S)


@pytest.mark.slow
async def test_a_sim_agent_then_a_claude_code_agent_run_headless_and_replay(tmp_path: Path, server: AnthropicFakeServer) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "module.py").write_text('"""A module."""\n')
    (tmp_path / "fleet.toml").write_text(PLAN.format(base_url=server.base_url))
    server.enqueue(anthropic_server.text_reply("The notes are thorough.", usage=USAGE))

    run = tokenmaxx(tmp_path, "run", "fleet.toml", "--headless")
    assert run.returncode == 0, run.stderr
    async with await Store.open(tmp_path / "s.db") as store:
        (summary,) = await store.sessions()
        events = await store.events(summary.id)
    finished = [(e.agent, e.outcome) for e in events if e.kind == "agent_finished"]
    assert finished == [("notes", "done"), ("cc", "done")]
    notes_done = next(e.seq for e in events if e.kind == "agent_finished" and e.agent == "notes")
    assert all(e.seq > notes_done for e in events if e.kind == "turn_started" and e.agent == "cc")
    assert "notes.md" in str(server.requests[0].body["messages"])
    cc_usage = [e for e in events if e.kind == "usage" and e.agent == "cc"]
    assert sum(e.input_tokens for e in cc_usage) == USAGE.uncached_input and sum(e.output_tokens for e in cc_usage) == USAGE.output

    replay = tokenmaxx(tmp_path, "replay", summary.id, "--headless")
    assert replay.returncode == 0, replay.stderr
    assert "notes" in replay.stdout and "cc" in replay.stdout and "done" in replay.stdout
