"""`tokenmaxx doctor`: which sandbox confines the agents' commands here, and what tokenmaxx runs on.

    diagnose(db_path) -> (lines, ok)    ok is False when commands cannot be sandboxed on this machine
"""

from __future__ import annotations

import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path

from tokenmaxx.agents.tools.sandbox import INSTALL_HINT, bwrap_problem, bwrap_version

MACOS_HINT = "macOS has sandbox-exec (Seatbelt), which tokenmaxx does not use yet"


def diagnose(db_path: Path) -> tuple[list[str], bool]:
    """The report's lines and whether every check passed."""
    sandbox_lines, ok = sandbox_report()
    lines = [
        *sandbox_lines,
        f"python:   {platform.python_version()} ({sys.executable})",
        f"textual:  {_version('textual')}",
        f"database: {db_path}",
    ]
    return lines, ok


def sandbox_report() -> tuple[list[str], bool]:
    """What confines commands: bubblewrap with its version, path and namespaces, or why nothing does."""
    problem = bwrap_problem(False)
    if problem is None:
        path = shutil.which("bwrap")
        return [
            f"sandbox:  bwrap ({bwrap_version() or 'bubblewrap, version unknown'} at {path})",
            "          user namespaces work: commands get their own user, PID, mount, IPC and UTS namespaces",
            "          network: isolated (own network namespace) unless an agent sets network = true",
        ], True
    return [
        "sandbox:  none: " + problem,
        "          run_command policies of auto ask instead (plans with sandbox = \"bwrap\" refuse commands)",
        f"          fix: {_fix()}",
    ], False


def _fix() -> str:
    if sys.platform == "darwin":
        return f"none yet on this platform ({MACOS_HINT}); approve each command yourself"
    if not sys.platform.startswith("linux"):
        return "none on this platform; approve each command yourself"
    if shutil.which("bwrap") is None:
        return INSTALL_HINT
    return "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or the container's seccomp/AppArmor profile)"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"
