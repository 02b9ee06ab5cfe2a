"""A real fleet process: clients come and go (kill -9 included) and it runs on; killed itself, it leaves no agent process behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenmaxx.agents import wire
from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.fleet_client import command, find_fleets, stop
from tokenmaxx.agents.fleet_process import LaunchSpec
from tokenmaxx.sessions.state import reduce_all
from tokenmaxx.sessions.store import Store
from tests.fakes import Call
from tests.fakes.openai_server import OpenAIFakeServer, text_reply, tool_reply
from tokenmaxx.tui.fleet_cli import start_fleet
from tokenmaxx.tui.remote_fleet import RemoteFleet

SLEEP = "sleep 3017"
"""The agent's long command, told apart from every other process by its odd length."""


def sleepers() -> list[int]:
    """The pids of the agent's long command still running."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if handle.read().split(b"\0")[:2] == SLEEP.encode().split():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


def wait_until(condition, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def asking(path: Path) -> bool:
    (found,) = asyncio.run(find_fleets())
    return found.hello is not None and found.hello.agents == {"awaiting_approval": 1}


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LaunchSpec, Path]]:
    """A fleet process of one agent that runs a long command and waits in it."""
    monkeypatch.setenv("TEST_MODEL_KEY", "k")
    with OpenAIFakeServer() as server:
        server.enqueue(tool_reply(Call("c1", "run_command", {"command": f"{SLEEP}; echo done"})), text_reply("Done."))
        (tmp_path / "project").mkdir()
        (tmp_path / "fleet.toml").write_text(
            f'name = "long"\nworkdir = "project"\nout = "out"\nsandbox = "none"\n'
            f'[providers.remote]\nkind = "openai"\nbase_url = "{server.base_url}"\napi_key_env = "TEST_MODEL_KEY"\n'
            '[[agents]]\nname = "a"\nrole = "chart-builder"\nprovider = "remote"\nmodel = "gpt-4o"\ntask = "Wait."\n'
            'tools = ["run_command"]\npolicy = { run_command = "auto" }\n'
        )
        spec = LaunchSpec(kind="run", session_id="f1", db=tmp_path / "s.db", out=tmp_path / "out", cwd=tmp_path, plan=tmp_path / "fleet.toml")
        path = start_fleet(spec)
        try:
            wait_until(lambda: asking(path))  # unconfined, run_command asks: approved from here as `ctl` would
            assert asyncio.run(command(path, "ctl:test", cmd.Approve(agent="a", call_id="c1", by="ctl:test"))) is None
            wait_until(lambda: len(sleepers()) == 1)
            yield spec, path
        finally:
            for pid in sleepers():
                os.kill(pid, signal.SIGKILL)
            if path.exists():
                asyncio.run(stop(path, "test"))


async def test_kill_9_of_the_fleet_leaves_no_agent_process_and_the_session_resumable(fleet: tuple[LaunchSpec, Path]) -> None:
    spec, path = fleet
    (found,) = await find_fleets()
    assert found.hello is not None and found.hello.agents == {"tool": 1}
    os.kill(found.hello.pid, signal.SIGKILL)
    await asyncio.to_thread(wait_until, lambda: not sleepers(), 10)
    (dead,) = await find_fleets(clean=True)
    assert dead.dead and not path.exists()
    async with await Store.open(spec.db) as store:
        assert (await store.session("f1")).status == "interrupted"


async def test_a_client_killed_with_kill_9_leaves_the_fleet_running_and_a_new_one_reads_its_state(fleet: tuple[LaunchSpec, Path]) -> None:
    spec, path = fleet
    code = f"import asyncio\nfrom tokenmaxx.tui.remote_fleet import RemoteFleet\nasync def main():\n    await RemoteFleet.attach(__import__('pathlib').Path({str(path)!r}), 'tui:doomed')\n    print('attached', flush=True)\n    await asyncio.sleep(60)\nasyncio.run(main())\n"
    doomed = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert doomed.stdout is not None and doomed.stdout.readline() == "attached\n"
    (found,) = await find_fleets()
    assert found.hello is not None and found.hello.clients == ["tui:doomed"]
    doomed.kill()
    doomed.wait()
    doomed.stdout.close()
    client = await RemoteFleet.attach(path, "tui:after")
    try:
        await client.read_agent_events("a")  # the fleet commits what it recorded
        async with await Store.open(spec.db) as store:
            recorded = await store.events("f1")
        assert reduce_all(e for e in recorded if e.seq <= client.state.seq) == client.state
        assert client.state.agents["a"].status == "tool" and sleepers()
        (found,) = await find_fleets()
        assert found.hello is not None and found.hello.clients == ["tui:after"]
    finally:
        await client.close()


def test_the_fleet_socket_is_owner_only(fleet: tuple[LaunchSpec, Path]) -> None:
    _, path = fleet
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700 and path.parent == wire.fleet_dir()
