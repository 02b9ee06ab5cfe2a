"""How the Claude Code CLI is started: an allow-listed environment, its own folders and process group."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tokenmaxx.agents.plan_models import ProviderConfig

QUIET = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
}
DEFAULT_RETRIES = "2"
PASSED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PWD", "CLAUDE_CODE_MAX_RETRIES", "API_TIMEOUT_MS")
"""Variables of tokenmaxx's own environment the CLI keeps; every other one is dropped."""
SDK_SET = (
    "CLAUDE_CODE_ENTRYPOINT",
    "CLAUDE_AGENT_SDK_VERSION",
    "CLAUDE_CODE_SDK_READS_SESSION_STATE",
    "CLAUDE_AGENT_SDK_CLIENT_APP",
    "CLAUDE_CODE_PRINT_BG_WAIT_CEILING_MS",
)


def harness_env(provider: ProviderConfig, home: Path) -> dict[str, str]:
    """The variables tokenmaxx sets for the CLI: its folders, quiet switches, endpoint and key."""
    env = {**QUIET, "HOME": str(home / "home"), "CLAUDE_CONFIG_DIR": str(home / "claude")}
    env["CLAUDE_CODE_MAX_RETRIES"] = os.environ.get("CLAUDE_CODE_MAX_RETRIES", DEFAULT_RETRIES)
    if provider.base_url:
        env["ANTHROPIC_BASE_URL"] = provider.base_url.rstrip("/").removesuffix("/v1")
    key_env = provider.key_env
    if key_env and os.environ.get(key_env):
        env["ANTHROPIC_API_KEY"] = os.environ[key_env]
    for folder in ("home", "claude"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    return env


def claude_cli() -> str | None:
    """The Claude Code CLI the SDK would run: the one bundled in its wheel, else `claude` on PATH."""
    import claude_agent_sdk

    bundled = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"
    return str(bundled) if bundled.is_file() else shutil.which("claude")


def cli_wrapper(home: Path) -> Path:
    """A script that starts the CLI in a process group of its own, ended whole when tokenmaxx dies."""
    cli = claude_cli()
    if cli is None:
        raise FileNotFoundError("the Claude Code CLI is not installed: pip install 'tokenmaxx[claude-code]'")
    names = sorted({*PASSED, *SDK_SET, *QUIET, "HOME", "CLAUDE_CONFIG_DIR", "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"})
    script = home / "claude-cli"
    home.mkdir(parents=True, exist_ok=True)
    text = _WRAPPER.format(python=sys.executable, cli=cli, names=names, parent=os.getpid(), linux=sys.platform.startswith("linux"))
    script.write_text(text, "utf-8")
    script.chmod(0o700)
    return script


_WRAPPER = """#!{python} -I
# Leads the CLI's process group and stays beside it: when tokenmaxx dies (even by SIGKILL) the
# kernel sends it SIGHUP (PR_SET_PDEATHSIG) and it ends the whole group, CLI and shells alike.
import ctypes, os, signal, sys
env = {{name: value for name, value in os.environ.items() if name in {names!r}}}
os.setsid()
signal.signal(signal.SIGHUP, lambda *_: os.killpg(0, signal.SIGKILL))
if {linux!r}:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGHUP)
if os.getppid() != {parent!r}:
    os.killpg(0, signal.SIGKILL)
child = os.fork()
if child == 0:
    os.execve({cli!r}, [{cli!r}, *sys.argv[1:]], env)
for forwarded in (signal.SIGTERM, signal.SIGINT):
    signal.signal(forwarded, lambda signum, _: os.kill(child, signum))
quiet = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(quiet, fd)
status = os.waitpid(child, 0)[1]
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""
