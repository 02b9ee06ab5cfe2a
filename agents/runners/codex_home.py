"""Where the Codex CLI is, and the private home it runs in: its config.toml and its environment.

Codex never sees the user's ~/.codex or the parent's environment. It gets a CODEX_HOME of its
own under the session's out folder, a config that points it at the plan's `openai`-kind
provider over the Responses API with analytics and plugin sync off (so nothing but the model
requests leaves the machine: HARNESSES.md §2), and only the variables on ENV_ALLOWED plus the
provider's key variable.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

CODEX_ENV = "TOKENMAXX_CODEX"
CODEX_PREFIX = Path("/opt/codex")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
PROVIDER_ID = "tokenmaxx"
ENV_ALLOWED = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR")
INSTALL_HINT = "install it with `npm install -g @openai/codex`, or set codex_path in the agent's harness_options"


@dataclass(frozen=True, slots=True)
class CodexSetup:
    """Everything the Codex CLI of one agent runs with."""

    model: str
    base_url: str
    key_env: str
    sandbox: str = "workspace-write"


def find_codex(configured: str | None = None) -> Path | None:
    """The codex executable: the plan's `codex_path`, then $TOKENMAXX_CODEX, then PATH, then /opt/codex."""
    for candidate in (configured, os.environ.get(CODEX_ENV)):
        if candidate:
            path = Path(candidate).expanduser()
            return path if path.is_file() and os.access(path, os.X_OK) else None
    on_path = shutil.which("codex")
    if on_path:
        return Path(on_path)
    bundled = CODEX_PREFIX / "node_modules" / ".bin" / "codex"
    return bundled if bundled.exists() else None


def missing_codex_message(configured: str | None = None) -> str:
    """What to tell the user when `find_codex` finds nothing."""
    where = configured or os.environ.get(CODEX_ENV)
    if where:
        return f"the Codex CLI {where!r} is not an executable file: {INSTALL_HINT}"
    return f"the Codex CLI is not installed (no `codex` on PATH): {INSTALL_HINT}"


def prepare_home(folder: Path, setup: CodexSetup) -> Path:
    """Create CODEX_HOME under `folder` with its config.toml, and a HOME beside it; returns CODEX_HOME."""
    codex_home = folder / "home"
    codex_home.mkdir(parents=True, exist_ok=True)
    (folder / "user").mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(config_toml(setup), encoding="utf-8")
    return codex_home


def config_toml(setup: CodexSetup) -> str:
    """The config.toml that points Codex at the provider and keeps everything else off."""
    return "\n".join(
        [
            f"model = {_toml(setup.model)}",
            f"model_provider = {_toml(PROVIDER_ID)}",
            "check_for_update_on_startup = false",
            "",
            "[analytics]",
            "enabled = false",
            "",
            "[features]",
            "plugins = false",
            "",
            f"[model_providers.{PROVIDER_ID}]",
            'name = "tokenmaxx provider"',
            f"base_url = {_toml(setup.base_url)}",
            f"env_key = {_toml(setup.key_env)}",
            'wire_api = "responses"',
            "",
        ]
    )


def codex_env(folder: Path, codex_home: Path, key_env: str, parent: dict[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment: the allow-listed variables, a private HOME and CODEX_HOME, and the key."""
    source = os.environ if parent is None else parent
    env = {name: source[name] for name in ENV_ALLOWED if name in source}
    env["HOME"] = str(folder / "user")
    env["CODEX_HOME"] = str(codex_home)
    if key_env in source:
        env[key_env] = source[key_env]
    return env


def app_server_argv(codex: Path) -> list[str]:
    """The command line of the app server, with plugin sync off once more on the command line."""
    return [str(codex), "app-server", "--disable", "plugins"]


def _toml(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's."""
    return json.dumps(value)
