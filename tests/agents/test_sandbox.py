"""run_command's confinement, asserted from inside commands: secrets, writes, processes, network, escapes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenmaxx.agents.plan import PlanError
from tokenmaxx.agents.providers.base import ModelRequest
from tokenmaxx.agents.tools import Workspace, run_tool
from tokenmaxx.agents.tools.sandbox import Bubblewrap, NoSandbox, bwrap_problem, choose_sandbox
from tests.agents.scripted import Step, make_plan, reply, until
from tests.agents.test_supervisor import run_to_end, supervisor, turns

needs_bwrap = pytest.mark.skipif(
    bwrap_problem() is not None, reason=f"bubblewrap cannot run here: {bwrap_problem()}"
)
GONE_WITHIN_S = 10
PLANTED = {
    "OPENROUTER": "sk-or-planted-1",
    "MY_PASS": "planted-pass-2",
    "SENTRY_DSN": "https://planted3@sentry.example/1",
    "SLACK_WEBHOOK_URL": "https://hooks.example/planted-4",
    "https_proxy": "http://user:planted-5@proxy.example:3128",
    "ANTHROPIC_API_KEY": "sk-ant-planted-6",
    "TOKENMAXX_DB": "/planted/7/sessions.db",
}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.md").write_text("original\n")
    (tmp_path / "out" / "other").mkdir(parents=True)
    (tmp_path / "out" / "other" / "result.md").write_text("theirs\n")
    return Workspace(project, tmp_path / "out", "charts", command_timeout_s=20, sandbox=choose_sandbox("bwrap"))


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)
    return PLANTED


def marked_processes(marker: str) -> list[int]:
    """The pids of host processes whose command line holds `marker`, other than this one."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture
def marker() -> Iterator[str]:
    """A unique word for a command line; whatever still carries it at the end is killed."""
    word = f"tokenmaxx-marker-{uuid.uuid4().hex}"
    yield word
    for pid in marked_processes(word):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


async def gone(marker: str) -> bool:
    """Whether every process carrying `marker` is gone, waiting a while for kills to land."""
    try:
        await until(lambda: not marked_processes(marker), timeout=GONE_WITHIN_S)
    except TimeoutError:
        return False
    return True


@needs_bwrap
async def test_a_supervised_command_reads_no_secret_from_any_environment(tmp_path: Path, planted: dict[str, str]) -> None:
    probe = "cat /proc/*/environ /proc/$PPID/environ; echo; env; ls /proc"

    def script(request: ModelRequest) -> list[Step]:
        if turns(request) == 0:
            return reply("", ("run_command", {"command": probe}))
        return reply("done")

    head = '[providers.router]\nkind = "openai"\napi_key_env = "OPENROUTER"\n'
    agents = '[[agents]]\nname = "a"\nrole = "chart-builder"\ntask = "Look."\npolicy = { run_command = "auto" }\n'
    sup, sink, provider = supervisor(tmp_path, script, agents, head)
    await run_to_end(sup)
    output = sink.of("a", "tool_result")[0].output
    assert "HOME=/tmp/home" in output
    assert not [name for name, value in planted.items() if value in output or f"{name}=" in output]


@needs_bwrap
async def test_writes_outside_the_own_out_folder_fail(ws: Workspace, tmp_path: Path) -> None:
    database = tmp_path / "sessions.db"
    database.write_text("history\n")
    command = (
        f'echo x >> "$TOKENMAXX_PROJECT/notes.md"; echo x > "$TOKENMAXX_PROJECT/new.md"; '
        f'echo x >> "$TOKENMAXX_OUT/other/result.md"; echo x >> {database}; echo x > {tmp_path}/planted; '
        "echo mine > mine.md"
    )
    outcome = await run_tool("run_command", {"command": command}, ws)
    assert "Read-only file system" in outcome.output
    assert (ws.project / "notes.md").read_text() == "original\n" and not (ws.project / "new.md").exists()
    assert (ws.out_root / "other" / "result.md").read_text() == "theirs\n"
    assert database.read_text() == "history\n" and not (tmp_path / "planted").exists()
    assert (ws.own_out / "mine.md").read_text() == "mine\n"


@needs_bwrap
async def test_other_processes_are_invisible(ws: Workspace) -> None:
    command = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done"
    outcome = await run_tool("run_command", {"command": command}, ws)
    lines = [line for line in outcome.output.splitlines()[:-1] if line.strip()]
    assert outcome.ok and 1 <= len(lines) <= 4
    host = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    assert host not in [line.strip() for line in lines]
    assert all(line.startswith(("/usr/bin/bwrap", "/bin/sh", "tr")) for line in lines)


@needs_bwrap
@pytest.mark.parametrize("network", [False, True])
async def test_network_is_off_unless_the_plan_allows_it(ws: Workspace, network: bool) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        confined = Workspace(ws.project, ws.out_root, ws.agent, sandbox=choose_sandbox("bwrap", network), network=network)
        connect = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); print('connected')"
        outcome = await run_tool("run_command", {"command": f'/usr/bin/env python3 -c "{connect}"'}, confined)
    assert ("connected" in outcome.output) == network


@needs_bwrap
@pytest.mark.parametrize("timeout_s", [None, 1.0])
async def test_setsid_children_die_with_the_command(ws: Workspace, marker: str, timeout_s: float | None) -> None:
    escape = f"setsid sh -c 'echo $$ > escaped; sleep 300; echo {marker}' >/dev/null 2>&1 &"
    started = " while [ ! -s escaped ]; do sleep 0.05; done;"
    command = escape + started + (" sleep 300" if timeout_s else " echo started")
    limited = Workspace(ws.project, ws.out_root, ws.agent, command_timeout_s=timeout_s or 20, sandbox=ws.sandbox)
    outcome = await run_tool("run_command", {"command": command}, limited)
    assert ("timed out" in outcome.output) == bool(timeout_s)
    assert await gone(marker)


DRIVER = """
import asyncio, sys
from pathlib import Path
from tokenmaxx.agents.tools import Workspace, run_tool
from tokenmaxx.agents.tools.sandbox import choose_sandbox

ws = Workspace(Path(sys.argv[1]), Path(sys.argv[2]), "a", sandbox=choose_sandbox(sys.argv[3]))
command = "sh -c 'sleep 300; echo " + sys.argv[4] + "' & setsid sh -c 'sleep 300; echo " + sys.argv[4] + "' & echo go > started; wait"
asyncio.run(run_tool("run_command", {"command": command}, ws))
"""


@needs_bwrap
async def test_sigkill_of_tokenmaxx_leaves_no_command_behind(ws: Workspace, marker: str) -> None:
    driver = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(DRIVER), str(ws.project), str(ws.out_root), "bwrap", marker],
        cwd=Path(__file__).parents[2],
    )
    try:
        await until(lambda: (ws.out_root / "a" / "started").exists() and len(marked_processes(marker)) >= 2, timeout=15)
    finally:
        driver.kill()
        driver.wait(timeout=15)
    assert await gone(marker)


async def test_without_a_sandbox_auto_commands_ask_and_say_why(tmp_path: Path) -> None:
    def script(request: ModelRequest) -> list[Step]:
        if turns(request) == 0:
            return reply("", ("run_command", {"command": "echo hi"}))
        return reply("done")

    agents = '[[agents]]\nname = "a"\nrole = "chart-builder"\ntask = "Run."\nsandbox = "none"\npolicy = { run_command = "auto" }\n'
    sup, sink, provider = supervisor(tmp_path, script, agents, headless=True, auto_yes=True)
    await run_to_end(sup)
    decided = sink.of("a", "approval_decided")
    assert [(e.approved, e.by) for e in decided] == [(True, "--yes")]
    loaded = [e for e in sink.events if e.kind == "plan_loaded"]
    assert loaded[0].notices == ['a: the plan sets sandbox = "none"; run_command asks instead of running unconfined (`tokenmaxx doctor` says more)']


async def test_an_approval_request_says_why_a_command_asks(tmp_path: Path) -> None:
    def script(request: ModelRequest) -> list[Step]:
        return reply("", ("run_command", {"command": "echo hi"})) if turns(request) == 0 else reply("done")

    agents = '[[agents]]\nname = "a"\nrole = "chart-builder"\ntask = "Run."\nsandbox = "none"\npolicy = { run_command = "auto" }\n'
    sup, sink, provider = supervisor(tmp_path, script, agents)
    await sup.start()
    try:
        await until(lambda: sup.state.agents["a"].status == "awaiting_approval")
        assert 'sandbox = "none"' in sink.of("a", "approval_requested")[0].reason
    finally:
        await sup.finish()


def test_auto_falls_back_to_no_sandbox_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    bwrap_problem.cache_clear()
    try:
        assert choose_sandbox("auto") == NoSandbox("no sandbox: bubblewrap (bwrap) is not installed")
        assert not choose_sandbox("bwrap").confined
    finally:
        bwrap_problem.cache_clear()


@needs_bwrap
def test_auto_is_bubblewrap_where_it_runs() -> None:
    assert isinstance(choose_sandbox("auto"), Bubblewrap) and isinstance(choose_sandbox("bwrap", True), Bubblewrap)


@pytest.mark.parametrize(
    ("head", "agent", "message"),
    [
        ('env_pass = ["OPENROUTER"]\n[providers.router]\nkind = "openai"\napi_key_env = "OPENROUTER"\n', "", "holds a provider's API key"),
        ("", 'env_pass = ["ANTHROPIC_API_KEY"]\n', "holds a provider's API key"),
        ("", 'env_pass = ["TOKENMAXX_DB"]\n', "set by tokenmaxx itself"),
        ('env_pass = ["NOT A NAME"]\n', "", "not an environment variable name"),
        ('sandbox = "firejail"\n', "", "sandbox"),
    ],
)
def test_a_plan_cannot_pass_keys_or_tokenmaxx_variables(tmp_path: Path, head: str, agent: str, message: str) -> None:
    agents = f'[[agents]]\nname = "a"\nrole = "chart-builder"\ntask = "Run."\n{agent}'
    with pytest.raises(PlanError, match=message):
        make_plan(tmp_path, agents, head)


def test_a_plan_passes_the_fleets_and_the_agents_variables(tmp_path: Path) -> None:
    agents = '[[agents]]\nname = "a"\nrole = "chart-builder"\ntask = "Run."\nenv_pass = ["MY_PASS", "GOPATH"]\nnetwork = true\n'
    plan = make_plan(tmp_path, agents, 'env_pass = ["GOPATH", "PIP_INDEX_URL"]\nsandbox = "none"\n')
    assert plan.env_pass_for("a") == ("GOPATH", "PIP_INDEX_URL", "MY_PASS")
    assert plan.sandbox_for("a") == "none" and plan.agent("a").network


async def test_a_plan_requiring_bwrap_refuses_commands_where_it_cannot_run(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    bwrap_problem.cache_clear()
    try:
        required = Workspace(ws.project, ws.out_root, ws.agent, sandbox=choose_sandbox("bwrap"))
    finally:
        bwrap_problem.cache_clear()
    outcome = await run_tool("run_command", {"command": "echo ran > ran"}, required)
    assert not outcome.ok and 'sandbox = "bwrap"' in outcome.output and not (ws.own_out / "ran").exists()
