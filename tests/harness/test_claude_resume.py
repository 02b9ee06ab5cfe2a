"""A headless run with a Claude Code agent killed with SIGKILL mid-turn: no CLI outlives it, and `tokenmaxx resume` goes on in the same Claude Code session."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("claude_agent_sdk", reason="Claude Code tests need the extra: pip install -e '.[claude-code]'")

from tokenmaxx.agents.pricing import price_usage  # noqa: E402
from tokenmaxx.agents.providers.base import Usage  # noqa: E402
from tokenmaxx.agents.runners.claude_env import claude_cli  # noqa: E402
from tokenmaxx.agents.supervisor import STALL_NUDGE  # noqa: E402
from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.sessions.store import Store  # noqa: E402
from tests.fakes import Call, ServerUsage, anthropic_server  # noqa: E402
from tests.fakes.anthropic_server import AnthropicFakeServer  # noqa: E402

KEY = "sk-test-planted-key-resume"
MODEL = "claude-sonnet-4-6"
HANG_GUARD_S = 60
RAN = ServerUsage(uncached_input=700, output=20)
CUT = ServerUsage(uncached_input=900, output=0)
RESUMED = ServerUsage(uncached_input=1500, output=30, cache_read=100)
PLAN = """name = "cc-resume"
workdir = "project"
out = "out"
stall_after = 1.5

[providers.fake]
kind = "anthropic"
base_url = "{base_url}"
api_key_env = "TEST_MODEL_KEY"

[[agents]]
name = "cc"
role = "critic"
provider = "fake"
model = "{model}"
harness = "claude-code"
task = "Say hello."
[agents.policy]
run_command = "auto"
"""


@pytest.fixture
def server() -> Iterator[AnthropicFakeServer]:
    with AnthropicFakeServer() as fake:
        yield fake
    assert fake.errors == []


def tokenmaxx_env() -> dict[str, str]:
    return {**os.environ, "TEST_MODEL_KEY": KEY, "CLAUDE_CODE_MAX_RETRIES": "0"}


def cli_processes(folder: Path) -> list[int]:
    """Live Claude Code CLIs (the bundled binary) whose working folder is under `folder`."""
    cli = os.path.realpath(claude_cli() or "")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe, cwd = os.readlink(entry / "exe"), Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if exe == cli and (cwd == folder or folder in cwd.parents):
            found.append(int(entry.name))
    return found


def recorded(db: Path, kind: str) -> int:
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM events WHERE kind = ?", (kind,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def kill_mid_turn(plan: Path, db: Path, server: AnthropicFakeServer) -> None:
    """Start a headless run, wait until the CLI streams its second turn, SIGKILL the run."""
    run = subprocess.Popen(
        [sys.executable, "-m", "tokenmaxx.tui", "run", str(plan), "--headless", "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=tokenmaxx_env(),
        start_new_session=True,
    )
    deadline = time.monotonic() + HANG_GUARD_S
    while not (len(server.requests) >= 2 and recorded(db, "text")):
        assert run.poll() is None, run.stderr.read().decode() if run.stderr else ""
        assert time.monotonic() < deadline, "the run never streamed"
        time.sleep(0.05)
    assert cli_processes(plan.parent / "out")
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    run.stderr.close()  # type: ignore[union-attr]


def wait_until_gone(folder: Path) -> list[int]:
    """The CLIs still alive under `folder` once they had the time a dying parent gives them."""
    deadline = time.monotonic() + 5
    while (left := cli_processes(folder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def priced(usage: ServerUsage) -> float:
    tokens = Usage(usage.uncached_input + usage.cache_read + usage.cache_write, usage.output, usage.cache_read, usage.cache_write)
    cost = price_usage(tokens, MODEL, "anthropic")
    assert cost is not None
    return cost


@pytest.mark.slow
async def test_a_killed_run_leaves_no_cli_and_resumes_the_same_claude_code_session(tmp_path: Path, server: AnthropicFakeServer) -> None:
    (tmp_path / "project").mkdir()
    plan, db = tmp_path / "fleet.toml", tmp_path / "s.db"
    plan.write_text(PLAN.format(base_url=server.base_url, model=MODEL))
    slow = anthropic_server.slow(pieces=400, gap_s=0.05)
    server.enqueue(
        anthropic_server.tool_reply(Call("toolu_1", "Bash", {"command": "python3 -c 'import time; time.sleep(30)'"}), usage=RAN),
        anthropic_server.Stream((anthropic_server._message_start(CUT), *slow.frames[1:]), gap_s=slow.gap_s),
        anthropic_server.text_reply("Hello again, after the crash.", usage=RESUMED),
    )

    kill_mid_turn(plan, db, server)
    assert wait_until_gone(tmp_path / "out") == [], "the Claude Code CLI outlived tokenmaxx"
    resumed = subprocess.run(
        [sys.executable, "-m", "tokenmaxx.tui", "resume", "--db", str(db), "--headless", session_of(db)],
        capture_output=True, text=True, env=tokenmaxx_env(), timeout=HANG_GUARD_S,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert cli_processes(tmp_path / "out") == []

    async with await Store.open(db) as store:
        (summary,) = await store.sessions()
        events = await store.events(summary.id)
    assert summary.status == "done"
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    sessions = [e.harness_session for e in events if isinstance(e, ev.AgentStatusChanged) and e.harness_session]
    assert len(sessions) == 1
    assert [json.loads(r.body["metadata"]["user_id"])["session_id"] for r in server.requests] == sessions * 3
    history = [json.dumps([m for m in r.body["messages"] if m["role"] != "system"]) for r in server.requests]
    assert "Say hello." in history[2] and "toolu_1" in history[2] and STALL_NUDGE in history[2]
    assert "Hello again, after the crash." in "".join(e.text for e in events if isinstance(e, ev.Text))

    usages = [e for e in events if isinstance(e, ev.UsageReported)]
    assert not any(u.estimated for u in usages)  # the reply cut by SIGKILL was never reported: nothing to estimate from
    exact = [u for u in usages if not u.estimated]
    assert sum(u.input_tokens for u in exact) == RAN.uncached_input + RESUMED.uncached_input + RESUMED.cache_read
    assert sum(u.output_tokens for u in exact) == RAN.output + RESUMED.output
    assert sum(u.cost_usd or 0 for u in exact) == pytest.approx(priced(RAN) + priced(RESUMED))
    assert (summary.input_tokens, summary.output_tokens) == (sum(u.input_tokens for u in usages), sum(u.output_tokens for u in usages))
    harness = [u.harness_cost_usd for u in usages if u.harness_cost_usd]
    assert harness == [pytest.approx(priced(RAN)), pytest.approx(priced(RESUMED))]  # the CLI prices this model as genai-prices does


def session_of(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        (sid,) = conn.execute("SELECT id FROM sessions").fetchone()
    conn.close()
    return str(sid)
