"""The sandboxed tools agents call: read_file, list_files, write_file and run_command.

    run_tool(name, args, ws) -> ToolOutcome   never raises except CancelledError
    ToolError                                 a refusal or failure, shown to the model as ok=False

Policies (auto, ask, deny) are not decided here: the agent loop asks before it calls `run_tool`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tokenmaxx.agents.providers.base import ToolSpec
from tokenmaxx.agents.tools.base import Tool
from tokenmaxx.agents.tools.command import RunCommand
from tokenmaxx.agents.tools.files import ListFiles, ReadFile, WriteFile
from tokenmaxx.agents.tools.workspace import OUT_PREFIX, PATH_RULES, ToolError, ToolOutcome, Workspace

__all__ = [
    "OUT_PREFIX",
    "PATH_RULES",
    "TOOLS",
    "Tool",
    "ToolError",
    "ToolOutcome",
    "Workspace",
    "run_tool",
    "tool_specs",
]

TOOLS: dict[str, Tool] = {tool.name: tool for tool in (ReadFile(), ListFiles(), WriteFile(), RunCommand())}


def tool_specs(names: Iterable[str]) -> tuple[ToolSpec, ...]:
    """The specs of the named tools, in the order given; an unknown name is a ValueError."""
    specs = []
    for name in names:
        if name not in TOOLS:
            raise ValueError(f"unknown tool {name!r}; the tools are {', '.join(TOOLS)}")
        specs.append(TOOLS[name].spec)
    return tuple(specs)


async def run_tool(name: str, args: dict[str, Any], ws: Workspace) -> ToolOutcome:
    """Run a tool by name; unknown tools, bad arguments and refusals come back as ok=False."""
    tool = TOOLS.get(name)
    if tool is None:
        return ToolOutcome(ok=False, output=f"unknown tool {name!r}; the tools are {', '.join(TOOLS)}")
    try:
        return await tool.run(args, ws)
    except ToolError as refusal:
        return ToolOutcome(ok=False, output=str(refusal))
