"""Git worktrees for coding agents: made before an agent starts, committed when it finishes, removed at the end.

Every git command runs as a subprocess in a thread (`run_git`), never on the event loop. Each
agent gets the branch `tokenmaxx/<session>/<agent>` in a worktree under the repository's git
folder (`<git-common-dir>/tokenmaxx/<session>/<agent>`), so neither the user's checkout nor the
session's out folder sees it. Every refusal is a `GitError` whose message names the fix.

    GitError: git is missing, the workdir is no repository, the checkout is dirty, a ref is missing...
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tokenmaxx.agents.plan_models import AGENT_BASE

BRANCH_PREFIX = "tokenmaxx/"
WORKTREES_DIR = "tokenmaxx"
GIT_TIMEOUT_S = 120.0
READONLY_FIX = 'or set workspace = "readonly" for this agent'
GIT_ENV_DROPPED = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")


class GitError(Exception):
    """A git operation refused or failed, with a message that says what to do."""


@dataclass(frozen=True, slots=True)
class GitResult:
    """What one git command printed and how it ended."""

    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True, slots=True)
class Worktree:
    """One agent's worktree: where it lies, its branch, the commit it started from and the branch it merges into."""

    repo: Path
    path: Path
    branch: str
    base_sha: str
    target: str | None  # the branch an accepted diff merges into; None when the base is no branch

    @property
    def git_dir(self) -> Path:
        """The repository's git folder (the worktree lies in it, under `tokenmaxx/<session>/<agent>`)."""
        return self.path.parents[2]


def branch_name(session: str, agent: str) -> str:
    """The branch an agent of a session works on."""
    return f"{BRANCH_PREFIX}{session}/{agent}"


async def run_git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> GitResult:
    """Run `git args` in `cwd` in a thread; GitError when git cannot be started."""
    return await asyncio.to_thread(_run_git, cwd, args, env)


def _run_git(cwd: Path, args: tuple[str, ...], env: dict[str, str] | None) -> GitResult:
    git = shutil.which("git")
    if git is None:
        raise GitError(f"git is not installed: install it (apt-get install git, brew install git) {READONLY_FIX}")
    full_env = {k: v for k, v in os.environ.items() if k not in GIT_ENV_DROPPED}
    full_env.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0", **(env or {}))
    try:
        done = subprocess.run(
            [git, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GitError(f"git {args[0]} did not run in {cwd}: {error}") from error
    return GitResult(done.returncode, done.stdout, done.stderr)


async def git_out(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """The output of a git command that must succeed; GitError with git's own message when it does not."""
    result = await run_git(cwd, *args, env=env)
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {last_line(result.stderr)}")
    return result.stdout.strip()


def last_line(text: str) -> str:
    """The last non-empty line of git's message (the one that says what went wrong)."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


async def repo_root(workdir: Path) -> Path:
    """The top folder of the repository holding `workdir`; GitError naming the fix when there is none."""
    result = await run_git(workdir, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise GitError(
            f"workdir {workdir} is not a git repository: run `git init` and commit there, {READONLY_FIX}"
        )
    return Path(result.stdout.strip())


async def worktrees_home(repo: Path) -> Path:
    """The folder under the repository's git folder where tokenmaxx keeps its worktrees."""
    common = Path(await git_out(repo, "rev-parse", "--git-common-dir"))
    return (common if common.is_absolute() else repo / common).resolve() / WORKTREES_DIR


async def create_worktree(workdir: Path, session: str, agent: str, base: str | None, upstream: Worktree | None) -> Worktree:
    """A new worktree and branch for `agent`, from `base` (HEAD when None), or the one an interrupted run of this session left."""
    repo = await repo_root(workdir)
    branch = branch_name(session, agent)
    path = await worktrees_home(repo) / session / agent
    base_sha, target = await _resolve_base(repo, base, upstream)
    if await _is_worktree_of(repo, path, branch):
        return Worktree(repo, path, branch, base_sha, target)
    if (await run_git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{branch}")).returncode == 0:
        raise GitError(f"branch {branch} already exists: run `tokenmaxx gc` or `git branch -D {branch}` in {repo}")
    result = await run_git(repo, "worktree", "add", "--quiet", "-b", branch, str(path), base_sha)
    if result.returncode != 0:
        raise GitError(f"cannot make a worktree for {agent} at {path}: {last_line(result.stderr)}")
    return Worktree(repo, path, branch, base_sha, target)


async def _resolve_base(repo: Path, base: str | None, upstream: Worktree | None) -> tuple[str, str | None]:
    """The commit a worktree starts from and the branch its diff merges into."""
    if base is not None and base.startswith(AGENT_BASE):
        if upstream is None:
            raise GitError(f'base = "{base}": that agent has no worktree; give it workspace = "worktree"')
        return await _commit_of(repo, upstream.branch, base), upstream.branch
    if base is None:
        await _require_clean(repo)
        sha = await _commit_of(repo, "HEAD", "HEAD")
        head = await run_git(repo, "symbolic-ref", "--quiet", "--short", "HEAD")
        return sha, head.stdout.strip() if head.returncode == 0 else None
    sha = await _commit_of(repo, base, base)
    is_branch = (await run_git(repo, "show-ref", "--verify", "--quiet", f"refs/heads/{base}")).returncode == 0
    return sha, base if is_branch else None


async def _commit_of(repo: Path, ref: str, shown: str) -> str:
    result = await run_git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if result.returncode != 0:
        hint = "commit something first" if ref == "HEAD" else f"create it, or fix base = \"{shown}\" in the plan"
        raise GitError(f"base {shown} is not a commit in {repo}: {hint}")
    return result.stdout.strip()


async def _require_clean(repo: Path) -> None:
    """Refuse a checkout with uncommitted changes to tracked files: the agent would start without them."""
    dirty = (await run_git(repo, "status", "--porcelain", "--untracked-files=no")).stdout
    if dirty.strip():
        files = ", ".join(line[3:] for line in dirty.splitlines()[:5])
        raise GitError(
            f"{repo} has uncommitted changes ({files}): commit or stash them first, since the agent "
            'starts from HEAD without them, or set base = "<branch>" in the plan'
        )


async def _is_worktree_of(repo: Path, path: Path, branch: str) -> bool:
    return any(w.path == path and w.branch == branch for w in await list_worktrees(repo))


@dataclass(frozen=True, slots=True)
class Listed:
    """A worktree as `git worktree list` shows it."""

    path: Path
    branch: str | None


async def list_worktrees(repo: Path) -> list[Listed]:
    """Every worktree of the repository with its branch (None when detached)."""
    listed: list[Listed] = []
    path: Path | None = None
    for line in (await git_out(repo, "worktree", "list", "--porcelain")).splitlines():
        if line.startswith("worktree "):
            path = Path(line[len("worktree ") :])
            listed.append(Listed(path, None))
        elif line.startswith("branch refs/heads/") and path is not None:
            listed[-1] = Listed(path, line[len("branch refs/heads/") :])
    return listed


async def commit_all(tree: Worktree, agent: str, session: str) -> bool:
    """Commit whatever the agent left uncommitted in its worktree; whether there was anything."""
    await git_out(tree.path, "add", "--all")
    if (await run_git(tree.path, "diff", "--cached", "--quiet")).returncode == 0:
        return False
    message = f"{agent}: work of tokenmaxx agent {agent} in session {session}"
    await git_out(tree.path, "commit", "--quiet", "--no-verify", "-m", message, env=identity(f"tokenmaxx agent {agent}"))
    return True


def identity(name: str, email: str = "tokenmaxx@localhost") -> dict[str, str]:
    """The author and committer of a commit tokenmaxx makes."""
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}


async def has_uncommitted(path: Path) -> bool:
    """Whether a worktree holds changes no commit has (untracked files included)."""
    return bool(await git_out(path, "status", "--porcelain"))


async def remove_worktree(repo: Path, path: Path, branch: str) -> None:
    """Remove a worktree and its branch (its commits stay reachable only from the reflog)."""
    if path.exists():
        await git_out(repo, "worktree", "remove", "--force", str(path))
    await git_out(repo, "worktree", "prune")
    await git_out(repo, "branch", "-D", branch)
