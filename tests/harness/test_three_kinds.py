"""A fleet of three kinds: a built-in sim agent, then a Claude Code agent, then a Codex agent, chained by `after`.

Both harnesses run their real CLIs against the local fakes. The Claude Code agent writes its
review with a command and ends at once; the Codex agent is handed that review and copies it.
Both commands ask (the default policy): headless `--yes` approves them, in the TUI the approvals queue does.
Headless through the real CLI, then replayed; and in the TUI on the in-process fleet.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

pytest.importorskip("claude_agent_sdk", reason="Claude Code tests need the extra: pip install -e '.[claude-code]'")

from tokenmaxx.agents.plan import load_plan  # noqa: E402
from tokenmaxx.agents.runners.codex_home import find_codex  # noqa: E402
from tokenmaxx.agents.conversation import FRESH_START  # noqa: E402
from tokenmaxx.agents.supervisor import Supervisor  # noqa: E402
from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.sessions.store import Store  # noqa: E402
from tests.agents.scripted import until  # noqa: E402
from tests.fakes import Call, ServerUsage, anthropic_server, responses_server  # noqa: E402
from tests.fakes.anthropic_server import AnthropicFakeServer  # noqa: E402
from tests.fakes.responses_server import ResponsesFakeServer  # noqa: E402
from tests.harness.test_claude_mixed import PLAN as CLAUDE_AFTER_SIM  # noqa: E402
from tests.tui.helpers import SIZE, pane, settle, shown  # noqa: E402
from tokenmaxx.tui.app import TokenmaxxApp  # noqa: E402
from tokenmaxx.tui.config import Config  # noqa: E402
from tokenmaxx.tui.fleet_view import LiveFleet  # noqa: E402
from tokenmaxx.tui.screens.approvals import ApprovalsModal  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(find_codex() is None, reason="the Codex CLI is not installed (npm install --prefix /opt/codex @openai/codex)"),
]

HANG_GUARD_S = 120
AGENTS = ("notes", "cc", "cx")
REVIEW = "# Review\\nThe notes hold.\\n"
CC_USAGE = (ServerUsage(uncached_input=900, output=30), ServerUsage(uncached_input=1000, output=12))
CX_USAGE = (ServerUsage(uncached_input=700, output=20), ServerUsage(uncached_input=800, output=9))
PLAN = (
    CLAUDE_AFTER_SIM
    + """
[providers.openai]
kind = "openai"
base_url = "{codex_url}"
api_key_env = "CODEX_TEST_KEY"

[[agents]]
name = "cx"
role = "critic"
provider = "openai"
model = "gpt-4o"
harness = "codex"
task = "Summarise the review."
after = ["cc"]
"""
)


@pytest.fixture
def claude() -> Iterator[AnthropicFakeServer]:
    with AnthropicFakeServer() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def codex() -> Iterator[ResponsesFakeServer]:
    with ResponsesFakeServer() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MODEL_KEY", "sk-test-three-claude")
    monkeypatch.setenv("CODEX_TEST_KEY", "sk-test-three-codex")
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")


def scripted(tmp_path: Path, claude: AnthropicFakeServer, codex: ResponsesFakeServer) -> Path:
    """The plan on disk, and each fake told its two replies: a command that writes, then a closing text."""
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "module.py").write_text('"""A module."""\n')
    plan = tmp_path / "fleet.toml"
    plan.write_text(PLAN.format(base_url=claude.base_url, codex_url=codex.base_url))
    claude.enqueue(
        anthropic_server.tool_reply(Call("toolu_review", "Bash", {"command": f"printf '{REVIEW}' > review.md"}), usage=CC_USAGE[0]),
        anthropic_server.text_reply("Wrote review.md.", usage=CC_USAGE[1]),
    )
    codex.enqueue(
        responses_server.command_reply("cp ../cc/review.md summary.md", call_id="call_copy", usage=CX_USAGE[0]),
        responses_server.text_reply("Copied the review.", usage=CX_USAGE[1]),
    )
    return plan


def tokenmaxx(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tokenmaxx.tui", *args, "--db", str(tmp_path / "s.db")]
    return subprocess.run(command, capture_output=True, text=True, env=dict(os.environ), cwd=tmp_path, timeout=HANG_GUARD_S)


def assert_chained(events: list[ev.Event], claude: AnthropicFakeServer, codex: ResponsesFakeServer) -> None:
    """Each agent done, each starting only after the one before finished, and the files handed along."""
    finished = [(e.agent, e.outcome) for e in events if isinstance(e, ev.AgentFinished)]
    assert finished == [(name, "done") for name in AGENTS]
    for before, after in zip(AGENTS, AGENTS[1:]):
        done_at = next(e.seq for e in events if isinstance(e, ev.AgentFinished) and e.agent == before)
        assert all(e.seq > done_at for e in events if isinstance(e, ev.TurnStarted) and e.agent == after)
    starts = {e.agent: e.inputs for e in events if isinstance(e, ev.AgentStatusChanged) and e.reason == FRESH_START}
    assert starts["cc"] == ["notes/notes.md"] and starts["cx"] == ["cc/review.md"]
    assert "notes/notes.md" in str(claude.requests[0].body["messages"])
    assert "cc/review.md" in " ".join(responses_server.input_texts(codex.requests[0]))
    assert [(e.agent, e.approved) for e in events if isinstance(e, ev.ApprovalDecided)] == [("cc", True), ("cx", True)]
    artifacts = {e.path: e for e in events if isinstance(e, ev.Artifact)}
    assert {"notes/notes.md", "cc/review.md", "cx/summary.md"} <= set(artifacts)
    assert artifacts["cx/summary.md"].sha256 == artifacts["cc/review.md"].sha256
    for name, usages in (("cc", CC_USAGE), ("cx", CX_USAGE)):
        reported = [e for e in events if isinstance(e, ev.UsageReported) and e.agent == name]
        assert sum(e.output_tokens for e in reported) == sum(u.output for u in usages)


async def recorded(db: Path) -> tuple[str, list[ev.Event]]:
    async with await Store.open(db) as store:
        (summary,) = await store.sessions()
        return summary.id, await store.events(summary.id)


async def test_three_kinds_chained_by_after_run_headless_and_replay(tmp_path: Path, claude: AnthropicFakeServer, codex: ResponsesFakeServer) -> None:
    plan = scripted(tmp_path, claude, codex)
    run = tokenmaxx(tmp_path, "run", str(plan), "--headless", "--yes")
    assert run.returncode == 0, run.stderr
    session, events = await recorded(tmp_path / "s.db")
    assert_chained(events, claude, codex)
    assert "summary.md" in run.stdout and "review.md" in run.stdout

    replay = tokenmaxx(tmp_path, "replay", session, "--headless")
    assert replay.returncode == 0, replay.stderr
    for name in AGENTS:
        assert name in replay.stdout
    assert replay.stdout.count("done") >= len(AGENTS) and "cx/summary.md" in replay.stdout


async def approved_on_screen(pilot: Pilot[None], supervisor: Supervisor, agent: str) -> None:
    """Wait for the agent's command to ask, then approve it from the approvals queue."""
    await until(lambda: agent in supervisor.runs and bool(supervisor.runs[agent].approvals), HANG_GUARD_S)
    await settle(pilot)
    await pilot.press("A")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ApprovalsModal) and len(pilot.app.screen.waiting) == 1
    await pilot.press("y", "escape")
    await settle(pilot)


async def test_three_kinds_chained_by_after_run_in_the_tui(tmp_path: Path, claude: AnthropicFakeServer, codex: ResponsesFakeServer) -> None:
    plan = load_plan(scripted(tmp_path, claude, codex))
    async with await Store.open(tmp_path / "s.db") as store:
        supervisor = Supervisor.create(plan, store)
        app = TokenmaxxApp(LiveFleet(supervisor), config=Config(directory=tmp_path / "config"), on_start=supervisor.start)
        try:
            async with app.run_test(size=SIZE) as pilot:
                for name in ("cc", "cx"):
                    await approved_on_screen(pilot, supervisor, name)
                await until(lambda: all(supervisor.state.agents[name].finished for name in AGENTS), HANG_GUARD_S)
                await settle(pilot)
                for name in AGENTS:
                    assert "done" in shown(pane(app, name)).lower(), name
        finally:
            await supervisor.finish()
            await store.flush()
        events = await store.events(supervisor.session_id)
    assert_chained(events, claude, codex)
