"""The run_command tool: a shell command in the agent's own out folder, in its sandbox, with limits
and an environment built from an allow-list (never from the parent's environment minus names)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tokenmaxx.agents.tools.base import BaseTool, Param
from tokenmaxx.agents.tools.process import CommandResult, run_in_group
from tokenmaxx.agents.tools.sandbox import Sandbox, SandboxRefusal
from tokenmaxx.agents.tools.workspace import ToolError, ToolOutcome, Workspace, real_root

WRITTEN_SHOWN = 20
BASE_ENV = ("PATH", "LANG", "LANGUAGE", "TERM", "TZ")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"

FileState = tuple[int, int, int, int]


class RunCommand(BaseTool):
    """Runs a shell command in the agent's out folder and reports its output, exit code and files."""

    name = "run_command"
    description = (
        "Run a shell command with /bin/sh -c in your own out folder. $TOKENMAXX_PROJECT is the project "
        "root (read-only) and $TOKENMAXX_OUT the session's out folder. stdout and stderr come back "
        "interleaved, cut off past a limit, followed by the exit code and the files the command created "
        "or changed. The command has a time limit; when it is reached, or when the command ends, every "
        "process it started is stopped, background ones included. Where a sandbox is available the "
        "command runs in it: only your own out folder is writable (the project and the other agents' "
        "folders are read-only, the system folders too), /tmp and $HOME are private and emptied when "
        "the command ends, no other process is visible, and there is no network unless the plan "
        "allows it. The environment holds only PATH, HOME, LANG, LC_*, TERM, TZ, the two variables "
        "above and those the plan passes; no API keys. When the plan gives you the fleet's history, "
        "$TOKENMAXX_HISTORY is a read-only SQLite snapshot of the session database, taken when you started."
    )
    params = (
        Param(
            "command",
            "string",
            'The shell command line, for example: git -C "$TOKENMAXX_PROJECT" log --oneline | head',
            required=True,
        ),
    )

    async def execute(self, args: dict[str, Any], ws: Workspace) -> ToolOutcome:
        command = args["command"]
        if not command.strip():
            raise ToolError("bad arguments for run_command: 'command' is empty")
        own_out = ws.own_out
        own_out.mkdir(parents=True, exist_ok=True)
        try:
            argv = ws.sandbox.argv(command, ws)
        except SandboxRefusal as refusal:
            raise ToolError(str(refusal)) from None
        before = await asyncio.to_thread(snapshot, own_out)
        async with private_home(ws.sandbox) as home:
            result = await run_in_group(argv, ws.command_dir, command_env(ws, home), ws.command_timeout_s, ws.output_cap)
        after = await asyncio.to_thread(snapshot, own_out)
        written = [own_out / name for name in changed_files(before, after)]
        ok = result.returncode == 0 and not result.timed_out
        return ToolOutcome(ok=ok, output=describe(result, ws, written), written=written)


def command_env(ws: Workspace, home: str) -> dict[str, str]:
    """The allow-listed variables, those the plan passes, a private HOME, and where the project and out folder are."""
    env = {name: value for name, value in os.environ.items() if name in BASE_ENV or name.startswith("LC_")}
    env.setdefault("PATH", DEFAULT_PATH)
    env.update({name: os.environ[name] for name in ws.env_pass if name in os.environ})
    env.update(
        HOME=home, TOKENMAXX_PROJECT=str(real_root(ws.project)), TOKENMAXX_OUT=str(real_root(ws.out_root))
    )
    env.update(history_env(ws))
    return env


def history_env(ws: Workspace) -> dict[str, str]:
    """$TOKENMAXX_HISTORY where the agent's snapshot lies for its commands, else $TOKENMAXX_HISTORY_NOTE saying why."""
    if ws.history is None:
        return {}
    if ws.history.path is None:
        return {"TOKENMAXX_HISTORY_NOTE": ws.history.note}
    return {"TOKENMAXX_HISTORY": ws.sandbox.history_path(ws.history.path)}


@asynccontextmanager
async def private_home(sandbox: Sandbox) -> AsyncIterator[str]:
    """HOME for one command: the sandbox's own, else a fresh host folder removed when the command ends."""
    inside = sandbox.home()
    if inside is not None:
        yield inside
        return
    folder = await asyncio.to_thread(tempfile.mkdtemp, prefix="tokenmaxx-home-")
    try:
        yield folder
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


def snapshot(folder: Path) -> dict[str, FileState]:
    """Identity, size and times of every regular file below `folder`, by relative path."""
    states: dict[str, FileState] = {}
    for top, dirs, files in os.walk(folder):
        base = Path(top)
        for name in files:
            try:
                info = (base / name).lstat()
            except FileNotFoundError:
                continue
            if stat.S_ISREG(info.st_mode):
                key = (base / name).relative_to(folder).as_posix()
                states[key] = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    return states


def changed_files(before: dict[str, FileState], after: dict[str, FileState]) -> list[str]:
    """The files that appeared or changed between two snapshots, sorted."""
    return sorted(name for name, state in after.items() if before.get(name) != state)


def describe(result: CommandResult, ws: Workspace, written: list[Path]) -> str:
    """The text the model sees: output, then how the command ended, then the files it wrote."""
    lines = [result.output.rstrip("\n") or "(no output)", _ending(result, ws)]
    if ws.history is not None and ws.history.path is None:
        lines.append(f"[$TOKENMAXX_HISTORY is not set: {ws.history.note}]")
    if written:
        names = [path.relative_to(ws.own_out).as_posix() for path in written]
        more = f" and {len(names) - WRITTEN_SHOWN} more" if len(names) > WRITTEN_SHOWN else ""
        lines.append(f"[files created or changed: {', '.join(names[:WRITTEN_SHOWN])}{more}]")
    return "\n".join(lines)


def _ending(result: CommandResult, ws: Workspace) -> str:
    if result.timed_out:
        return f"[timed out after {ws.command_timeout_s:g} s: the command and its processes were killed]"
    if result.returncode < 0:
        return f"[killed by signal {_signal_name(-result.returncode)}]"
    return f"[exit code {result.returncode}]"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
