"""A planted API key never shows up: not in the store, exports, printed output, errors or agents' commands."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

from tokenmaxx.sessions.export import to_markdown, write_jsonl
from tokenmaxx.sessions.store import Store
from tests.fakes import Call, anthropic_server
from tests.fakes.anthropic_server import AnthropicFakeServer

KEY = "sk-ant-planted-5e1f0c9d7b"
PLAN = """
name = "secrets"
workdir = "project"
out = "out"

[providers.claude]
kind = "anthropic"
base_url = "{url}"
api_key_env = "PLANTED_KEY"

[[agents]]
name = "a"
role = "chart-builder"
provider = "claude"
model = "claude-sonnet-4-6"
task = "Look at the environment."
policy = {{ run_command = "auto" }}
"""


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PLANTED_KEY": KEY, "TOKENMAXX_DB": str(tmp_path / "s.db")}
    return subprocess.run([sys.executable, "-m", "tokenmaxx.tui", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def everything_written(tmp_path: Path) -> str:
    texts = []
    for path in tmp_path.rglob("*"):
        if path.is_file():
            texts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(texts)


def test_a_planted_key_appears_nowhere(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    with AnthropicFakeServer() as server:
        server.enqueue(
            anthropic_server.tool_reply(Call("c1", "run_command", {"command": "env; echo key=$PLANTED_KEY"})),
            anthropic_server.text_reply("The environment holds no key."),
            anthropic_server.unauthorized(),
        )
        (tmp_path / "fleet.toml").write_text(PLAN.format(url=server.base_url))
        good = run_cli(tmp_path, "run", "fleet.toml", "--headless")
        bad = run_cli(tmp_path, "run", "fleet.toml", "--headless")
        listing = run_cli(tmp_path, "sessions", "--json")
        sent_key = server.requests[0].headers.get("x-api-key") or server.requests[0].headers.get("authorization", "")
    assert KEY in sent_key, "the key must reach the provider"
    assert good.returncode == 0 and bad.returncode == 1
    assert "PLANTED_KEY" in bad.stdout  # the auth error names the variable to set, not its value
    exports = asyncio.run(export_all(tmp_path / "s.db"))
    seen = "\n".join([good.stdout, good.stderr, bad.stdout, bad.stderr, listing.stdout, exports, everything_written(tmp_path)])
    assert "key=\\n[exit code 0]" in exports, "the command ran, and saw no key"
    assert KEY not in seen


async def export_all(db: Path) -> str:
    out = io.StringIO()
    async with await Store.open(db) as store:
        for summary in await store.sessions():
            events = await store.events(summary.id)
            write_jsonl(events, out)
            out.write(to_markdown(events))
    return out.getvalue()
