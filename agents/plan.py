"""Plans: the TOML file that describes a fleet, loaded into a validated `Plan`.

`load_plan(path)` and `parse_plan(text, path)` raise only `PlanError`, whose
text names the file, line and field: `fleet.toml:14: agents[2].after: unknown
agent "dek"`. Field paths count array elements from 0, as Python does.
"""

from __future__ import annotations

import ast
import heapq
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from tokenmaxx.agents.plan_checks import Problem, plan_problems, read_role_prompts
from tokenmaxx.agents.plan_errors import PlanError, display_path, field_name, from_validation
from tokenmaxx.agents.plan_lines import KeyPath, key_lines, line_of, nesting_line
from tokenmaxx.agents.plan_models import (
    DEFAULT_POLICY,
    KNOWN_TOOLS,
    PROVIDER_KINDS,
    AgentSpec,
    Budget,
    LoopSpec,
    PlanFile,
    Policy,
    WorkspaceKind,
    Price,
    ProviderConfig,
    ProviderKind,
    RoleSpec,
    SandboxMode,
)
from tokenmaxx.agents.roles import Role, get_role
from tokenmaxx.agents.summary import TASK_FAILED
from tokenmaxx.agents.small_files import SmallFileError, read_small_file

__all__ = [
    "KNOWN_TOOLS",
    "PROVIDER_KINDS",
    "AgentSpec",
    "Budget",
    "LoopSpec",
    "Plan",
    "PlanError",
    "Policy",
    "Price",
    "ProviderConfig",
    "ProviderKind",
    "RoleSpec",
    "load_plan",
    "parse_plan",
]

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$|\s*\(at end of document\)$")
_DECLARED_TWICE = re.compile(r"cannot declare (\(.*\)) twice")
MAX_NESTING = 100
AUTO_WORKERS_ABOVE = 500
"""Own-loop agents on real providers that one process carries at 20 tokens/s each (bench/real_path_bench.py: at 600 it is at 91% of a core, at 800 it falls behind)."""
NO_AGENTS = "the plan has no agents: add at least one [[agents]] table with name, role and task"


class Plan(PlanFile):
    """A loaded plan: the file's contents with its own path and absolute `workdir` and `out`."""

    name: str = Field(min_length=1)
    path: Path
    workdir: Path
    out: Path

    def agent(self, name: str) -> AgentSpec:
        """Return the agent called `name`; KeyError when the plan has none."""
        for agent in self.agents:
            if agent.name == name:
                return agent
        raise KeyError(f'no agent "{name}" in plan {self.name}')

    def provider_config(self, name: str) -> ProviderConfig:
        """Return the provider `name` from `[providers]`, or a default one when `name` is a kind."""
        if name in self.providers:
            return self.providers[name]
        if name in PROVIDER_KINDS:
            return ProviderConfig.model_validate({"kind": name})
        raise KeyError(f'no provider "{name}" in plan {self.name}')

    def custom_roles(self) -> dict[str, Role]:
        """Return the roles the plan defines, which take precedence over built-in ones."""
        return {name: Role(name, spec.prompt or "", tuple(spec.tools)) for name, spec in self.roles.items()}

    def role(self, name: str) -> Role:
        """Return the role `name`, the plan's own first, then the built-in one."""
        return get_role(name, self.custom_roles())

    def worker_processes(self) -> int:
        """How many worker processes run the plan's own-loop agents; 1 runs them in the fleet's own process.

        `workers = "auto"` stays in one process up to AUTO_WORKERS_ABOVE own-loop agents at once,
        and above that uses a process per core. A harness's agents are not counted: their CLI
        runs in a process of its own.
        """
        if self.workers != "auto":
            return self.workers
        own = sum(1 for a in self.agents if a.harness is None)
        return 1 if min(own, self.max_parallel) <= AUTO_WORKERS_ABOVE else max(2, os.cpu_count() or 2)

    def model_for(self, agent: AgentSpec | str) -> str:
        """Return the agent's model, or for a sim agent without one the model the sim prices as."""
        spec = self._spec(agent)
        return spec.model or self.provider_config(spec.provider).price_as

    def tools_for(self, agent: AgentSpec | str) -> list[str]:
        """Return the tools offered to the agent: its own list or its role's, less those denied."""
        spec = self._spec(agent)
        tools = spec.tools if spec.tools is not None else list(self.role(spec.role).tools)
        return [tool for tool in tools if self.policy_for(spec, tool) != "deny"]

    def policy_for(self, agent: AgentSpec | str, tool: str) -> Policy:
        """Return auto, ask or deny for a call of `tool` by the agent (unknown tools are denied)."""
        return self._spec(agent).policy.get(tool, DEFAULT_POLICY.get(tool, "deny"))

    def sandbox_for(self, agent: AgentSpec | str) -> SandboxMode:
        """Return the agent's `sandbox` setting, else the fleet's."""
        return self._spec(agent).sandbox or self.sandbox

    def workspace_for(self, agent: AgentSpec | str) -> WorkspaceKind:
        """Return the agent's `workspace` setting, else the fleet's."""
        return self._spec(agent).workspace or self.workspace

    def env_pass_for(self, agent: AgentSpec | str) -> tuple[str, ...]:
        """Return the variables passed to the agent's commands: the fleet's, then its own."""
        return tuple(dict.fromkeys([*self.env_pass, *self._spec(agent).env_pass]))

    def system_prompt(self, agent: AgentSpec | str) -> str:
        """Return the role's prompt followed by where this agent stands in the fleet."""
        spec = self._spec(agent)
        return self.role(spec.role).prompt.rstrip() + "\n\n" + self._fleet_section(spec)

    def dependants(self, name: str, *, transitive: bool = False) -> list[str]:
        """Return the agents that come after `name` (directly, or through others too), in file order."""
        links = self._dependant_links()
        found = set(links.get(name, ()))
        frontier = list(found) if transitive else []
        while frontier:
            for dependant in links[frontier.pop()]:
                if dependant not in found:
                    found.add(dependant)
                    frontier.append(dependant)
        return [agent.name for agent in self.agents if agent.name in found]

    def topological_order(self) -> list[str]:
        """Return the agent names so that each comes after its dependencies, else in file order."""
        position = {agent.name: index for index, agent in enumerate(self.agents)}
        links = self._dependant_links()
        waiting = {agent.name: len(set(agent.after)) for agent in self.agents}
        ready = [index for index, agent in enumerate(self.agents) if not agent.after]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            name = self.agents[heapq.heappop(ready)].name
            order.append(name)
            for dependant in links[name]:
                waiting[dependant] -= 1
                if waiting[dependant] == 0:
                    heapq.heappush(ready, position[dependant])
        return order

    def _dependant_links(self) -> dict[str, list[str]]:
        links: dict[str, list[str]] = {agent.name: [] for agent in self.agents}
        for agent in self.agents:
            for dependency in dict.fromkeys(agent.after):
                links[dependency].append(agent.name)
        return links

    def _spec(self, agent: AgentSpec | str) -> AgentSpec:
        return self.agent(agent) if isinstance(agent, str) else agent

    def _project_lines(self, agent: AgentSpec) -> list[str]:
        """How the agent reaches the project: read-only with its own out folder, or its own git worktree to edit."""
        if self.workspace_for(agent) == "worktree":
            return [
                "You work in your own git worktree of the project, on a branch of your own: the project root is yours",
                "to edit (`write_file` paths are relative to it; `out:` paths still name the session's out folder).",
                "Your changes against the base are your deliverable; tokenmaxx commits them when you finish.",
            ]
        return [
            f"The project root is {self.workdir} (read-only for you).",
            "Read and list paths relative to the project root; paths starting with `out:` read the",
            "session's out folder, where every agent's outputs are (`out:<agent>/<file>`).",
            f"`write_file` paths are relative to your own out folder (`out:{agent.name}/` to the others):",
            f"write `notes.md`, not `out:{agent.name}/notes.md`.",
        ]

    def _fleet_section(self, agent: AgentSpec) -> str:
        tools = self.tools_for(agent)
        lines = [
            "## This fleet",
            f'You are the agent "{agent.name}" in the fleet "{self.name}".',
            *self._project_lines(agent),
            f"If you cannot do your task, say why and end your final reply with the words `{TASK_FAILED}`",
        ]
        asked = [tool for tool in tools if self.policy_for(agent, tool) == "ask"]
        if asked:
            lines.append(f"Calls of {', '.join(asked)} wait for a person's approval and may be denied.")
        if agent.after:
            inputs = ", ".join(f"{name} (`out:{name}/`)" for name in agent.after)
            lines.append(f"You build on the outputs of: {inputs}.")
        return "\n".join(lines) + "\n"


def load_plan(path: Path) -> Plan:
    """Read and validate the plan file at `path`."""
    path = Path(path)
    try:
        data = read_small_file(path)
    except SmallFileError as error:
        raise PlanError(path, _unreadable(error)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlanError(path, "not UTF-8 text", line=line) from None
    return parse_plan(text, path)


def _unreadable(error: SmallFileError) -> str:
    if error.missing:
        return "file not found"
    if error.folder:
        return "is a folder, not a plan file"
    return f"cannot read: {error.reason}"


def parse_plan(text: str, path: Path) -> Plan:
    """Validate plan `text` as if read from `path` (relative paths in it resolve from its folder)."""
    path = Path(path)
    raw = _parse_toml(text, path)
    try:
        written = PlanFile.model_validate(raw)
    except ValidationError as exc:
        raise from_validation(exc, PlanFile, path, key_lines(text)) from None
    folder = Path(os.path.abspath(path)).parent
    roles, problems = read_role_prompts(written, folder)
    problems += plan_problems(written)
    if problems:
        raise _first_problem(problems, path, key_lines(text))
    if not written.agents:
        raise PlanError(path, NO_AGENTS, field="agents")
    return _resolve(written.model_copy(update={"roles": roles}), path, folder, text)


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(path, f"invalid TOML: {_toml_detail(exc)}", line=_toml_line(exc, text)) from None
    except RecursionError:
        message = f"invalid TOML: arrays or tables nested more than {MAX_NESTING} deep; a plan needs a few levels"
        raise PlanError(path, message, line=nesting_line(text, MAX_NESTING)) from None


def _toml_line(exc: tomllib.TOMLDecodeError, text: str) -> int:
    match = _TOML_POSITION.search(str(exc))
    if match and match.group(1):
        return int(match.group(1))
    return len(text.rstrip().splitlines()) or 1


def _toml_detail(exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = _TOML_POSITION.search(message)
    detail = message[: match.start()] if match else message
    detail = detail[:1].lower() + detail[1:]
    declared = _DECLARED_TWICE.fullmatch(detail)
    if declared:
        detail = f"table [{field_name(ast.literal_eval(declared.group(1)))}] is declared twice"
    if match and match.group(2):
        detail += f" (column {match.group(2)})"
    return detail


def _first_problem(problems: list[Problem], path: Path, lines: dict[KeyPath, int]) -> PlanError:
    located = [(line_of(lines, problem.at or problem.field), problem) for problem in problems]
    line, problem = min(located, key=lambda item: item[0] if item[0] is not None else 0)
    return PlanError(path, problem.message, line=line, field=field_name(problem.field))


def _resolve(written: PlanFile, path: Path, folder: Path, text: str) -> Plan:
    workdir = (folder / Path(written.workdir).expanduser()).resolve()
    if not workdir.is_dir():
        line = line_of(key_lines(text), ("workdir",))
        raise PlanError(path, f"not a folder: {workdir}", line=line, field="workdir")
    out = (folder / Path(written.out).expanduser()).resolve()
    _check_out(out, path, text)
    fields = dict(written)
    fields.update(name=written.name or path.stem, path=folder / path.name, workdir=workdir, out=out)
    return Plan.model_validate(fields)


def _check_out(out: Path, path: Path, text: str) -> None:
    """Refuse an out folder that lies below a file, which no run could create."""
    existing = next((folder for folder in (out, *out.parents) if folder.exists()), None)
    if existing is not None and not existing.is_dir():
        line = line_of(key_lines(text), ("out",))
        message = f"{existing} is a file, so the out folder {out} cannot be made; choose another folder"
        raise PlanError(path, message, line=line, field="out")
