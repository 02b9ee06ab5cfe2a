"""Real git repositories in temporary folders for the worktree tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "tester@example.com",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "tester@example.com",
}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` as the test's user and return its output; fails the test when git fails."""
    env = {**os.environ, **IDENTITY, "LC_ALL": "C"}
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def make_repo(repo: Path, files: dict[str, str]) -> str:
    """A repository on branch main with `files` committed; returns the commit."""
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit_files(repo, files, "initial")
    return git(repo, "rev-parse", "HEAD")


def commit_files(repo: Path, files: dict[str, str], message: str) -> str:
    """Write `files` and commit them; returns the new commit."""
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def branches(repo: Path) -> list[str]:
    return git(repo, "branch", "--format=%(refname:short)").splitlines()
