"""Where an agent's tools may read and write, and how a model's path strings map onto disk.

An agent reads its project and the session's out folder, and writes only in its own out folder.
Path checks happen twice: lexically (absolute paths and `..` that climbs out are refused before
the disk is touched), then after resolving symlinks (a link that points outside is refused).
The roots themselves are resolved once per process (`real_root`); what lies below them is
resolved on every call, so a link made after a first call is still caught.

    ToolError: a refusal or failure the model sees as the tool's error message
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath

from tokenmaxx.agents.tools.sandbox import NoSandbox, Sandbox

OUT_PREFIX = "out:"

PATH_RULES = """\
How paths work in your tools:
- read_file and list_files take paths relative to the project root: "src/app.py", "docs", "." for the root.
- A path that starts with "out:" refers to the session's out folder, where every agent keeps its output:
  "out:" lists the agents' folders, "out:charts/loc.svg" is a file the charts agent wrote.
- write_file takes paths relative to your own out folder: "report.md", "data/points.csv"
  ("out:<your name>/report.md" works too). You cannot write anywhere else.
- run_command runs in your own out folder; $TOKENMAXX_PROJECT is the project root and $TOKENMAXX_OUT
  the session's out folder (for example: git -C "$TOKENMAXX_PROJECT" log).
- Absolute paths, ".." that leaves the root, and symlinks that point outside it are refused."""


class ToolError(Exception):
    """A refusal or failure that the model should see as the tool's error message."""


@dataclass(slots=True)
class ToolOutcome:
    """What a tool call produced: its text for the model and the files it created or changed."""

    ok: bool
    output: str
    written: list[Path] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HistoryCopy:
    """A read-only snapshot of the session history for an agent's commands (`path`), or why there is none (`note`)."""

    path: Path | None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Workspace:
    """One agent's view of the disk (the project it reads and the session's out folder) and how its
    commands run: in which sandbox, with or without network, with which variables passed through."""

    project: Path
    out_root: Path
    agent: str
    command_timeout_s: float = 120
    output_cap: int = 32_000
    sandbox: Sandbox = NoSandbox()
    network: bool = False
    env_pass: tuple[str, ...] = ()
    history: HistoryCopy | None = None  # None: the plan does not give this agent the history
    writable_project: bool = False  # a coding agent's own git worktree: it edits the project, commands run there
    git_dir: Path | None = None  # the repository's git folder, readable by a worktree's commands (git log, git diff)

    def __post_init__(self) -> None:
        if self.agent in ("", ".", "..") or "/" in self.agent or "\0" in self.agent:
            raise ValueError(f"Workspace.agent: {self.agent!r} is not a usable folder name")
        if self.command_timeout_s <= 0:
            raise ValueError(f"Workspace.command_timeout_s: must be positive, got {self.command_timeout_s}")
        if self.output_cap < 1:
            raise ValueError(f"Workspace.output_cap: must be at least 1, got {self.output_cap}")

    @property
    def own_out(self) -> Path:
        """The agent's own out folder, writable by its tools."""
        return self.out_root / self.agent

    @property
    def command_dir(self) -> Path:
        """Where its commands run: its worktree when it has one, else its own out folder."""
        return self.project if self.writable_project else self.own_out


def resolve_readable(ws: Workspace, raw: str) -> Path:
    """Map a read path (project-relative, or `out:` for the out folder) to a real path inside its root."""
    if raw.startswith(OUT_PREFIX):
        return _confine(ws.out_root, raw[len(OUT_PREFIX) :], raw, "the session's out folder")
    return _confine(ws.project, raw, raw, "the project")


def resolve_writable(ws: Workspace, raw: str) -> Path:
    """Map a write path to a real path inside the agent's own out folder, refusing anything else."""
    if ws.writable_project and not raw.startswith(OUT_PREFIX):
        return _resolve_in_worktree(ws, raw)
    where = f"your out folder ({OUT_PREFIX}{ws.agent}/)"
    relative = raw
    if raw.startswith(OUT_PREFIX):
        parts = _lexical_parts(raw[len(OUT_PREFIX) :], raw, "the session's out folder")
        if not parts or parts[0] != ws.agent:
            raise ToolError(f"refused: path {raw!r} is not in {where}; write_file writes only there")
        relative = "/".join(parts[1:])
    ws.own_out.mkdir(parents=True, exist_ok=True)
    real = _confine(ws.own_out, relative, raw, where)
    if real == real_root(ws.own_out):
        raise ToolError(f"path {raw!r} names {where} itself; give a file name such as 'report.md'")
    return real


def _resolve_in_worktree(ws: Workspace, raw: str) -> Path:
    """A write path inside the agent's worktree, never into its `.git` (which git alone maintains)."""
    parts = _lexical_parts(raw, raw, "your worktree (the project root)")
    if not parts:
        raise ToolError(f"path {raw!r} names the project root itself; give a file name such as 'README.md'")
    if parts[0] == ".git":
        raise ToolError(f"refused: path {raw!r} is inside .git; tokenmaxx commits your changes when you finish")
    return _confine(ws.project, raw, raw, "your worktree (the project root)")


def as_model_path(ws: Workspace, real: Path) -> str:
    """Show a real path the way the model names it: project-relative or `out:`-prefixed."""
    out_real = real_root(ws.out_root)
    if real.is_relative_to(out_real):
        return OUT_PREFIX + real.relative_to(out_real).as_posix()
    return real.relative_to(real_root(ws.project)).as_posix() or "."


def own_out_path(ws: Workspace, real: Path) -> list[Path]:
    """A real path inside the agent's out folder under `ws.own_out` as the caller spelled it; none for a worktree file."""
    if not real.is_relative_to(real_root(ws.own_out)):
        return []
    return [ws.own_out / real.relative_to(real_root(ws.own_out))]


def real_root(root: Path) -> Path:
    """A workspace root with its symlinks resolved, once: every tool call of every agent needs it."""
    return _resolved(root.absolute())


@lru_cache(maxsize=4096)
def _resolved(absolute: Path) -> Path:
    return absolute.resolve()


def _confine(root: Path, relative: str, raw: str, where: str) -> Path:
    parts = _lexical_parts(relative, raw, where)
    root_real = real_root(root)
    real = root_real.joinpath(*parts).resolve()
    if not real.is_relative_to(root_real):
        raise ToolError(f"refused: path {raw!r} goes through a symlink that points outside {where}")
    return real


def _lexical_parts(relative: str, raw: str, where: str) -> list[str]:
    if "\0" in relative:
        raise ToolError(f"refused: path {raw!r} contains a NUL character")
    if relative.startswith("/") or relative == "~" or relative.startswith("~/"):
        raise ToolError(f"refused: path {raw!r} is absolute; give a path relative to {where}")
    parts: list[str] = []
    for part in PurePosixPath(relative).parts:
        if part == "..":
            if not parts:
                raise ToolError(f"refused: path {raw!r} is outside {where}")
            parts.pop()
        elif part != ".":
            parts.append(part)
    return parts
