"""The tool protocol, argument checking against a small schema, and the base every tool shares.

A tool never lets a refusal, bad arguments or an OS error escape as an exception: they become a
`ToolOutcome(ok=False)` the model reads. Only `asyncio.CancelledError` propagates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tokenmaxx.agents.providers.base import ToolSpec
from tokenmaxx.agents.tools.workspace import ToolError, ToolOutcome, Workspace

ParamType = Literal["string", "integer", "boolean"]

_PYTHON_TYPES: dict[ParamType, type] = {"string": str, "integer": int, "boolean": bool}
_A_TYPE: dict[ParamType, str] = {"string": "a string", "integer": "an integer", "boolean": "a boolean"}


@dataclass(frozen=True, slots=True)
class Param:
    """One argument of a tool, as the model sees it in the JSON schema."""

    name: str
    type: ParamType
    description: str
    required: bool = False
    minimum: int | None = None

    def schema(self) -> dict[str, Any]:
        """The JSON schema of this argument."""
        schema: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        return schema


class Tool(Protocol):
    """A tool an agent can call: its name, the spec the model sees, and how to run it."""

    name: str
    spec: ToolSpec

    async def run(self, args: dict[str, Any], ws: Workspace) -> ToolOutcome: ...


class BaseTool(ABC):
    """Checks the arguments, runs `execute`, and turns refusals and OS errors into outcomes."""

    name: str
    description: str
    params: tuple[Param, ...]

    def __init__(self) -> None:
        self.spec = ToolSpec(self.name, self.description, params_schema(self.params))

    async def run(self, args: dict[str, Any], ws: Workspace) -> ToolOutcome:
        """Run the tool; every failure except cancellation comes back as `ok=False`."""
        try:
            return await self.execute(check_args(self.name, self.params, args), ws)
        except ToolError as refusal:
            return ToolOutcome(ok=False, output=str(refusal))
        except OSError as error:
            where = f" on {args['path']!r}" if isinstance(args, dict) and "path" in args else ""
            return ToolOutcome(ok=False, output=f"{self.name} failed{where}: {error.strerror or error}")

    @abstractmethod
    async def execute(self, args: dict[str, Any], ws: Workspace) -> ToolOutcome:
        """Do the tool's work with checked arguments; raise ToolError to refuse."""


def params_schema(params: tuple[Param, ...]) -> dict[str, Any]:
    """The JSON schema of an argument object with these parameters."""
    return {
        "type": "object",
        "properties": {p.name: p.schema() for p in params},
        "required": [p.name for p in params if p.required],
        "additionalProperties": False,
    }


def check_args(tool: str, params: tuple[Param, ...], args: object) -> dict[str, Any]:
    """Return the arguments that were given, or raise ToolError naming the bad one."""
    if not isinstance(args, dict):
        raise ToolError(f"bad arguments for {tool}: expected an object, got {type(args).__name__}")
    known = {p.name: p for p in params}
    for name in args:
        if name not in known:
            accepted = ", ".join(known) or "no arguments"
            raise ToolError(f"bad arguments for {tool}: unknown argument {name!r}; it takes {accepted}")
    for param in params:
        if param.name in args:
            _check_value(tool, param, args[param.name])
        elif param.required:
            raise ToolError(f"bad arguments for {tool}: missing required argument {param.name!r}")
    return dict(args)


def _check_value(tool: str, param: Param, value: object) -> None:
    expected = _PYTHON_TYPES[param.type]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ToolError(
            f"bad arguments for {tool}: {param.name!r} must be {_A_TYPE[param.type]}, got {_json_type(value)}"
        )
    if param.minimum is not None and isinstance(value, int) and value < param.minimum:
        raise ToolError(
            f"bad arguments for {tool}: {param.name!r} must be at least {param.minimum}, got {value}"
        )


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
