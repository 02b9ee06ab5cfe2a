"""Plan errors that name the file, line and field, and their wording.

`PlanError` is the only error a plan load raises; `str()` reads
`fleet.toml:14: agents[2].after: unknown agent "dek"`. Pydantic's validation
errors are reworded here in TOML's terms (table, array, integer), with a
"did you mean" for misspelt keys.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from tokenmaxx.agents.plan_lines import KeyPath, line_of

_BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

_EXPECTED = {
    "float_type": "a number",
    "int_type": "an integer",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
}

MAX_KEY_SHOWN = 40

_COMPARISONS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


class PlanError(Exception):
    """A plan that cannot be used, located by file, line and field."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None, field: str = "") -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = display_path(self.path) + (f":{self.line}" if self.line is not None else "")
        return ": ".join(part for part in (where, self.field, self.message) if part)


def display_path(path: Path) -> str:
    """Show `path` relative to the working directory when it lies below it, else as given."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def field_name(path: Sequence[str | int]) -> str:
    """Render a key path the way a reader finds it in the file: `prices."glm-5.2".input`."""
    rendered = ""
    for part in path:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            part = shortened(part)
            key = part if part and set(part) <= _BARE_KEY_CHARS else f'"{part}"'
            rendered += f".{key}" if rendered else key
    return rendered


def shortened(key: str) -> str:
    """A key as shown in a message: cut to MAX_KEY_SHOWN characters."""
    return key if len(key) <= MAX_KEY_SHOWN else key[: MAX_KEY_SHOWN - 1] + "…"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ` (did you mean "x"?)` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def bad_name(name: str) -> str:
    """Explain what a name of an agent or role may contain."""
    return f'invalid name "{name}": use lowercase letters, digits, "-" and "_", starting with a letter or digit'


def toml_type(value: Any) -> str:
    """Name the TOML type of a parsed value, with the value itself when it is short."""
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"float {value}"
    if isinstance(value, str):
        return f'string "{value}"' if len(value) <= 40 else "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime, date, time)):
        return "a date-time"
    return type(value).__name__


def from_validation(
    exc: ValidationError, root: type[BaseModel], path: Path, lines: dict[KeyPath, int]
) -> PlanError:
    """Turn the first (in file order) of pydantic's errors into a PlanError."""
    errors = [(line_of(lines, error["loc"]), error) for error in exc.errors()]
    line, error = min(errors, key=lambda item: item[0] if item[0] is not None else 0)
    loc = error["loc"]
    return PlanError(path, describe(error, root), line=line, field=field_name(loc))


def describe(error: ErrorDetails, root: type[BaseModel]) -> str:
    """Word one pydantic error in the terms of the TOML file."""
    kind = error["type"]
    loc = error["loc"]
    given = error["input"]
    ctx = error.get("ctx", {})
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return f'unknown key "{shortened(key)}"' + did_you_mean(key, allowed_keys(root, loc[:-1]))
    if kind == "missing":
        return "missing required key"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {toml_type(given)}"
    if kind == "literal_error":
        return f"expected one of {ctx['expected'].replace(chr(39), chr(34))}, got {toml_type(given)}"
    if kind in _COMPARISONS:
        bound = next(iter(ctx.values()))
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"must be {_COMPARISONS[kind]} {bound}, got {given}"
    if kind == "finite_number":
        return f"must be a finite number, got {given}"
    if kind == "string_pattern_mismatch":
        return bad_name(given)
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"][0].lower() + error["msg"][1:]


def allowed_keys(root: type[BaseModel], loc: KeyPath) -> list[str]:
    """Return the keys the model at `loc` accepts, or an empty list when it is not a model."""
    annotation: Any = root
    for part in loc:
        annotation = _unwrap_optional(annotation)
        if isinstance(part, int) or _is_dict(annotation):
            annotation = typing.get_args(annotation)[-1]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and part in annotation.model_fields:
            annotation = annotation.model_fields[part].annotation
        else:
            return []
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return members[0] if len(members) == 1 else annotation
    return annotation


def _is_dict(annotation: Any) -> bool:
    return typing.get_origin(annotation) is dict
