"""User themes: one TOML file per theme in `<config dir>/themes/`, turned into Textual `Theme`s.

A file that cannot be read or validated is reported with its name and skipped, never raised
past `load_user_themes`, so one bad file never keeps the app from starting.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.theme import Theme

from tokenmaxx.themes.builtin import THEME_VARIABLES


class ThemeFileError(Exception):
    """A theme file that cannot be used; the message names the file and the field."""

    def __init__(self, path: Path, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class ThemeFile(BaseModel):
    """The fields of a theme file: Textual's theme colours plus our variables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    primary: str
    secondary: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    accent: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None
    dark: bool = True
    luminosity_spread: float = 0.15
    text_alpha: float = 0.95
    variables: dict[str, str] = {}

    @field_validator(
        "primary", "secondary", "warning", "error", "success", "accent",
        "foreground", "background", "surface", "panel", "boost",
    )
    @classmethod
    def _colour(cls, value: str | None) -> str | None:
        return None if value is None else _parse_colour(value)

    @field_validator("variables")
    @classmethod
    def _variables(cls, value: dict[str, str]) -> dict[str, str]:
        for name, colour in value.items():
            if name not in THEME_VARIABLES:
                known = ", ".join(sorted(THEME_VARIABLES))
                raise ValueError(f"unknown variable {name!r} (known: {known})")
            _parse_colour(colour)
        return value


def _parse_colour(value: str) -> str:
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f"{value!r} is not a colour (try '#rrggbb')") from None
    return value


@dataclass(frozen=True)
class UserThemes:
    """What a themes folder held: the themes that loaded and the files that did not."""

    themes: tuple[Theme, ...] = ()
    errors: tuple[ThemeFileError, ...] = field(default=())


def load_theme_file(path: Path) -> Theme:
    """The theme in one TOML file; raises ThemeFileError naming the file and field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ThemeFileError(path, f"cannot read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ThemeFileError(path, f"not valid TOML: {error}") from None
    try:
        spec = ThemeFile.model_validate(data)
    except ValidationError as error:
        raise ThemeFileError(path, _first_problem(error)) from None
    fields = spec.model_dump(exclude={"name", "variables"})
    return Theme(name=spec.name or path.stem, variables={**THEME_VARIABLES, **spec.variables}, **fields)


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "file"
    message = problem["msg"].removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{where}: {message}"


def load_user_themes(folder: Path) -> UserThemes:
    """Every `*.toml` theme in `folder` (none if it does not exist), in file-name order."""
    if not folder.is_dir():
        return UserThemes()
    themes: list[Theme] = []
    errors: list[ThemeFileError] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            themes.append(load_theme_file(path))
        except ThemeFileError as error:
            errors.append(error)
    return UserThemes(tuple(themes), tuple(errors))
