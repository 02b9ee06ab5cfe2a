"""The JSON-RPC client for `codex app-server`, against stand-in servers that misbehave in ways the real one cannot be made to."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tokenmaxx.agents.runners.codex_home import CodexSetup, codex_env, config_toml
from tokenmaxx.agents.runners.codex_rpc import CodexExited, CodexRpc, LineReader
from tokenmaxx.agents.tools.process import group_alive

HUGE_THEN_ANSWER = """
import json, sys
request = json.loads(sys.stdin.readline())
sys.stdout.write("x" * (6 * 1024 * 1024) + "\\n")
sys.stdout.write(json.dumps({"id": request["id"], "result": {"hello": 1}}) + "\\n")
sys.stdout.flush()
sys.stdin.readline()
sys.stdin.readline()
"""
DIES = """
import sys
sys.stderr.write("error: the config is broken beyond repair\\n")
sys.exit(3)
"""


async def refuse(method: str, params: dict) -> dict:  # type: ignore[type-arg]
    raise AssertionError(f"unexpected server request {method}")


def stand_in(tmp_path: Path, source: str) -> CodexRpc:
    script = tmp_path / "server.py"
    script.write_text(source)
    return CodexRpc([sys.executable, str(script)], env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path, on_request=refuse)


async def test_a_line_past_the_limit_is_dropped_and_the_next_answer_still_arrives(tmp_path: Path) -> None:
    rpc = stand_in(tmp_path, HUGE_THEN_ANSWER)
    try:
        await rpc.start()
        assert rpc._reader.dropped == 1
    finally:
        await rpc.aclose()
    assert rpc.pid is not None and not group_alive(rpc.pid)


async def test_a_codex_that_exits_fails_every_waiter_with_its_last_words(tmp_path: Path) -> None:
    rpc = stand_in(tmp_path, DIES)
    with pytest.raises(CodexExited, match="code 3.*config is broken"):
        await rpc.start()
    message = await asyncio.wait_for(rpc.notifications.get(), 5)
    assert isinstance(message, CodexExited)
    await rpc.aclose()


async def test_a_missing_codex_binary_is_a_clear_error(tmp_path: Path) -> None:
    rpc = CodexRpc([str(tmp_path / "nope")], env={}, cwd=tmp_path, on_request=refuse)
    with pytest.raises(CodexExited, match="could not start"):
        await rpc.start()
    await rpc.aclose()


def test_line_reader_bounds_memory_across_chunks() -> None:
    reader = LineReader(limit=10)
    assert reader.feed(b'{"a":1}\n{"b":') == [b'{"a":1}']
    assert reader.feed(b"2}\n" + b"y" * 30) == [b'{"b":2}']
    assert len(reader._buffer) == 0 and reader.dropped == 1
    assert reader.feed(b"y" * 30 + b"\nok\n") == [b"ok"]


def test_the_config_keeps_codex_offline_and_on_the_responses_api() -> None:
    text = config_toml(CodexSetup(model='m"x', base_url="http://127.0.0.1:9/v1", key_env="K"))
    assert 'wire_api = "responses"' in text and "[analytics]\nenabled = false" in text and "plugins = false" in text
    assert 'model = "m\\"x"' in text


def test_codex_gets_only_allowed_variables_and_its_key(tmp_path: Path) -> None:
    parent = {"PATH": "/bin", "K": "sk-1", "AWS_SECRET_ACCESS_KEY": "s", "OPENAI_API_KEY": "other", "HOME": "/root"}
    env = codex_env(tmp_path, tmp_path / "home", "K", parent)
    assert env == {"PATH": "/bin", "K": "sk-1", "HOME": str(tmp_path / "user"), "CODEX_HOME": str(tmp_path / "home")}


def test_a_plan_naming_a_missing_codex_exits_2_with_the_install_command(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    plan = tmp_path / "fleet.toml"
    plan.write_text(
        'name = "t"\nworkdir = "project"\n[providers.remote]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\n'
        '[[agents]]\nname = "cx"\nrole = "critic"\nprovider = "remote"\nmodel = "gpt-4o"\nharness = "codex"\ntask = "t"\n'
        f'[agents.harness_options]\ncodex_path = "{tmp_path / "no-codex"}"\n'
    )
    run = subprocess.run(
        [sys.executable, "-m", "tokenmaxx.tui", "run", str(plan), "--headless", "--db", str(tmp_path / "s.db")],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 2, run.stderr
    assert "npm install -g @openai/codex" in run.stderr and "Traceback" not in run.stderr
