"""How a command is confined: bubblewrap namespaces on Linux, or nothing where none works.

    choose_sandbox(mode) -> Sandbox       "auto": bubblewrap when it runs here, probed once per process;
                                          "bwrap" where it cannot run: commands are refused
    Sandbox.argv(command, ws) -> argv     what `run_in_group` starts
    bwrap_problem() -> str | None         why bubblewrap cannot run here, or None when it can

With bubblewrap a command gets its own user, PID, mount, IPC, UTS and (unless the agent has network
access) network namespaces; the system folders, the project and the session's out folder read-only,
its own out folder read-write, a private /tmp holding HOME, fresh /proc and /dev, and, for an agent
given the history, the snapshot of the session database read-only at HISTORY_MOUNT. bubblewrap is
started with the command's allow-listed environment, so its own pid 1 shows nothing else.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from tokenmaxx.agents.plan_models import SandboxMode

if TYPE_CHECKING:
    from tokenmaxx.agents.tools.workspace import Workspace

SANDBOX_HOME = "/tmp/home"
HISTORY_MOUNT = "/run/tokenmaxx/history.db"
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt")
PROBE_TIMEOUT_S = 10.0
INSTALL_HINT = "install bubblewrap (apt-get install bubblewrap, or your distribution's package)"


class SandboxRefusal(Exception):
    """A command the sandbox will not start; the tool shows it to the model."""


class Sandbox(Protocol):
    """Turns a shell command into the argv that runs it confined (or not) for one workspace."""

    name: str
    confined: bool
    reason: str

    def argv(self, command: str, ws: Workspace) -> list[str]: ...

    def home(self) -> str | None: ...

    def history_path(self, copy: Path) -> str: ...


@dataclass(frozen=True, slots=True)
class NoSandbox:
    """Runs commands as the user, unconfined, or with `refuse` none at all: `reason` says why there is no sandbox."""

    reason: str = 'the plan sets sandbox = "none"'
    refuse: bool = False
    name: str = "none"
    confined: bool = False

    def argv(self, command: str, ws: Workspace) -> list[str]:
        """The shell, as is; a refusal when the plan requires a sandbox this machine cannot give."""
        if self.refuse:
            raise SandboxRefusal(f'run_command refused: the plan sets sandbox = "bwrap", but {self.reason}')
        return ["/bin/sh", "-c", command]

    def home(self) -> str | None:
        """None: the caller makes a private folder on the host."""
        return None

    def history_path(self, copy: Path) -> str:
        """The history snapshot where it lies on the host: writing it cannot change the record."""
        return str(copy)


@dataclass(frozen=True, slots=True)
class Bubblewrap:
    """Runs each command in fresh namespaces with only the folders it needs mounted."""

    path: str
    name: str = "bwrap"
    confined: bool = True
    reason: str = "bubblewrap"

    def argv(self, command: str, ws: Workspace) -> list[str]:
        """bwrap's options, then /bin/sh -c `command` in the agent's own out folder."""
        return [
            self.path,
            *namespace_args(network=ws.network),
            *system_args(),
            *git_dir_args(ws),
            *folder_args(ws.project.resolve(), ws.out_root.resolve(), ws.own_out.resolve(), ws.writable_project),
            *history_args(ws),
            "--chdir", str(ws.command_dir.resolve()),
            "--", "/bin/sh", "-c", command,
        ]  # fmt: skip

    def home(self) -> str | None:
        """HOME inside the sandbox: a folder in its private /tmp, gone when the command ends."""
        return SANDBOX_HOME

    def history_path(self, copy: Path) -> str:
        """The history snapshot's fixed, read-only place inside the sandbox."""
        return HISTORY_MOUNT


def namespace_args(*, network: bool) -> list[str]:
    """Every namespace of its own (the host's network only when allowed); dies with tokenmaxx.

    No `--new-session`: the command must stay in the process group that `run_in_group` ends."""
    share = ["--share-net"] if network else []
    return ["--unshare-all", *share, "--unshare-pid", "--die-with-parent", "--hostname", "sandbox"]


def system_args() -> list[str]:
    """The system folders read-only (a symlinked one as the same link), fresh /proc and /dev, a private /tmp."""
    args: list[str] = []
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            args += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    return [*args, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", SANDBOX_HOME]


def folder_args(project: Path, out_root: Path, own_out: Path, writable_project: bool = False) -> list[str]:
    """The project (read-write when it is the agent's worktree) and the out folder read-only, the agent's own out folder read-write.

    They come after the private /tmp, which would otherwise hide any of them that lies under /tmp."""
    return [
        "--bind" if writable_project else "--ro-bind", str(project), str(project),
        "--ro-bind", str(out_root), str(out_root),
        "--bind", str(own_out), str(own_out),
    ]  # fmt: skip


def git_dir_args(ws: Workspace) -> list[str]:
    """The repository's git folder read-only, so git can read a worktree's history; before the worktree, which may lie inside it."""
    if ws.git_dir is None:
        return []
    return ["--ro-bind", str(ws.git_dir.resolve()), str(ws.git_dir.resolve())]


def history_args(ws: Workspace) -> list[str]:
    """The agent's history snapshot read-only at HISTORY_MOUNT, when it has one."""
    if ws.history is None or ws.history.path is None:
        return []
    return ["--ro-bind", str(ws.history.path.resolve()), HISTORY_MOUNT]


def choose_sandbox(mode: SandboxMode, network: bool = False) -> Sandbox:
    """The sandbox a plan's `sandbox` setting gives on this machine."""
    if mode == "none":
        return NoSandbox()
    problem = bwrap_problem(network)
    if problem is None:
        return Bubblewrap(shutil.which("bwrap") or "bwrap")
    if mode == "bwrap":
        return NoSandbox(reason=problem, refuse=True)
    return NoSandbox(reason=f"no sandbox: {problem}")


@functools.cache
def bwrap_problem(network: bool = False) -> str | None:
    """Why bubblewrap cannot confine a command here (probed by running `true` in it), or None."""
    if not sys.platform.startswith("linux"):
        return f"no sandbox on this platform ({sys.platform}): bubblewrap needs Linux"
    path = shutil.which("bwrap")
    if path is None:
        return "bubblewrap (bwrap) is not installed"
    probe = [path, *namespace_args(network=network), *system_args(), "--", "/bin/true"]
    try:
        done = subprocess.run(probe, env={}, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{path} did not run: {error}"
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit code {done.returncode}"
        return f"{path} cannot create namespaces here ({detail}); user namespaces may be disabled"
    return None


def bwrap_version() -> str | None:
    """`bubblewrap X.Y.Z` from the installed bwrap, or None."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None
