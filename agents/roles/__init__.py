"""Roles: a system prompt and the default tools of an agent.

The built-in roles live beside this module as Markdown files (shipped in the
wheel, read with importlib.resources). Each file opens with a front-matter
block naming its default tools:

    ---
    tools: read_file, list_files, write_file
    ---
    You build charts ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

BUILTIN_ROLE_NAMES = ("chart-builder", "log-analyst", "fact-checker", "deck-builder", "critic")


class UnknownRole(KeyError):
    """A role name that is neither built in nor defined by the plan."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f'unknown role "{self.name}"'


class RoleFileError(ValueError):
    """A role's Markdown file lacks its front matter or its tools line."""


@dataclass(frozen=True)
class Role:
    """A named system prompt with the tools an agent in this role gets by default."""

    name: str
    prompt: str
    tools: tuple[str, ...]


def parse_role(name: str, text: str) -> Role:
    """Build a Role from Markdown with a `---` front-matter block holding `tools: a, b`."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in (line.strip() for line in lines[1:]):
        raise RoleFileError(f"role {name}: the file must open with a --- front-matter block")
    end = next(index for index, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    meta = dict(_meta_line(name, line) for line in lines[1:end] if line.strip())
    if "tools" not in meta:
        raise RoleFileError(f"role {name}: the front matter has no tools line")
    tools = tuple(tool.strip() for tool in meta["tools"].split(",") if tool.strip())
    prompt = "\n".join(lines[end + 1 :]).strip() + "\n"
    return Role(name=name, prompt=prompt, tools=tools)


def _meta_line(name: str, line: str) -> tuple[str, str]:
    key, sep, value = line.partition(":")
    if not sep:
        raise RoleFileError(f"role {name}: front-matter line {line!r} is not `key: value`")
    return key.strip(), value.strip()


def _load_builtin_roles() -> dict[str, Role]:
    folder = resources.files(__name__)
    return {name: parse_role(name, (folder / f"{name}.md").read_text("utf-8")) for name in BUILTIN_ROLE_NAMES}


BUILTIN_ROLES: dict[str, Role] = _load_builtin_roles()


def get_role(name: str, custom: Mapping[str, Role] | None = None) -> Role:
    """Return the plan's own role `name` if it defines one, else the built-in one."""
    if custom and name in custom:
        return custom[name]
    if name in BUILTIN_ROLES:
        return BUILTIN_ROLES[name]
    raise UnknownRole(name)
