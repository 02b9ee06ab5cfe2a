"""The app's settings: one typed object, read from `config.toml` in the config folder and written back.

The folder is `$TOKENMAXX_CONFIG_DIR` when set, else platformdirs' user config path for
tokenmaxx. User themes live in its `themes/` subfolder.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tokenmaxx.agents.notify import NotifySettings
from tokenmaxx.themes import DEFAULT_THEME

CONFIG_FILE = "config.toml"
ENV_CONFIG_DIR = "TOKENMAXX_CONFIG_DIR"


class ConfigError(Exception):
    """A config file that cannot be read; the message names the file and the field."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class Settings(BaseModel):
    """What `config.toml` may hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    theme: str = DEFAULT_THEME
    fps: int = Field(default=10, ge=1, le=60, description="Frames per second the fleet screen repaints at most.")
    notify: NotifySettings = NotifySettings()
    teams: dict[str, list[str]] = Field(default_factory=dict, description="Team labels and their members' user names, for --team.")


class Config(BaseModel):
    """The settings and the folder they came from."""

    model_config = ConfigDict(frozen=True)

    directory: Path
    settings: Settings = Settings()

    @property
    def path(self) -> Path:
        return self.directory / CONFIG_FILE

    @property
    def themes_dir(self) -> Path:
        return self.directory / "themes"

    @property
    def theme(self) -> str:
        return self.settings.theme

    def with_theme(self, theme: str) -> Config:
        return self.model_copy(update={"settings": self.settings.model_copy(update={"theme": theme})})


def config_dir() -> Path:
    """Where the config lives: $TOKENMAXX_CONFIG_DIR, else the user config dir."""
    override = os.environ.get(ENV_CONFIG_DIR)
    return Path(override).expanduser() if override else platformdirs.user_config_path("tokenmaxx")


def load_config(directory: Path | None = None) -> Config:
    """The config in `directory` (default: `config_dir()`); defaults when there is no file yet."""
    folder = directory or config_dir()
    path = folder / CONFIG_FILE
    if not path.exists():
        return Config(directory=folder)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(path, f"cannot read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(path, f"not valid TOML: {error}") from None
    try:
        return Config(directory=folder, settings=Settings.model_validate(data))
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "file"
        message = "unknown setting" if problem["type"] == "extra_forbidden" else problem["msg"]
        raise ConfigError(path, f"{field}: {message}") from None


def save_config(config: Config) -> Path:
    """Write the settings to `config.toml`, creating the folder; returns the file written."""
    config.directory.mkdir(parents=True, exist_ok=True)
    settings = config.settings.model_dump(exclude={"notify"})
    teams = settings.pop("teams")
    lines = _toml_lines(settings)
    notify = config.settings.notify.model_dump(exclude_defaults=True)
    if notify:
        lines += ["", "[notify]", *_toml_lines(notify)]
    if teams:
        lines += ["", "[teams]", *(f"{json.dumps(name)} = {json.dumps(members)}" for name, members in teams.items())]
    temporary = config.path.with_suffix(".toml.tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    temporary.replace(config.path)
    return config.path


def _toml_lines(table: dict[str, object]) -> list[str]:
    return [f"{key} = {_toml_value(value)}" for key, value in table.items()]


def _toml_value(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)
