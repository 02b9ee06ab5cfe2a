"""A worktree's diff as a deliverable, and merging an accepted one into its base branch.

A merge never leaves the user's checkout half-merged: the merged tree is computed with
`git merge-tree --write-tree` (no checkout involved), committed with `git commit-tree`, and only
a clean result moves the branch. A branch checked out somewhere is moved there by
`git merge --ff-only`, which updates that working tree safely and refuses when it is dirty;
any other branch is moved with `git update-ref` against its old value.
"""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.agents.plan_models import MergeMode
from tokenmaxx.agents.worktrees import GitError, Worktree, git_out, identity, list_worktrees, run_git
from tokenmaxx.sessions.events import DiffFile, DiffSummary

REWORK_HINT = "reject it with a note asking the agent to rebase onto {target}, or merge {branch} by hand"


async def diff_of(tree: Worktree) -> tuple[DiffSummary, str]:
    """The branch's changes against the commit it started from: counts per file, whether it merges, and the patch."""
    numstat = await git_out(tree.repo, "diff", "--numstat", "-z", tree.base_sha, tree.branch)
    files = _numstat_files(numstat)
    patch = (await run_git(tree.repo, "diff", tree.base_sha, tree.branch)).stdout
    applies = tree.target is not None and (await merged_tree(tree, tree.target))[0] is not None
    summary = DiffSummary(
        branch=tree.branch,
        base_sha=tree.base_sha,
        target=tree.target,
        files=files,
        added=sum(f.added for f in files),
        removed=sum(f.removed for f in files),
        applies=applies,
    )
    return summary, patch


def _numstat_files(numstat: str) -> list[DiffFile]:
    """Parse `git diff --numstat -z`: `added\\tremoved\\tpath\\0`, or for a rename `added\\tremoved\\t\\0old\\0new\\0`."""
    fields = numstat.split("\0")
    files: list[DiffFile] = []
    index = 0
    while index < len(fields) and fields[index]:
        added, removed, path = fields[index].split("\t", 2)
        if not path:
            path, index = fields[index + 2], index + 2
        files.append(DiffFile(path=path, added=_count(added), removed=_count(removed)))
        index += 1
    return files


def _count(text: str) -> int:
    return 0 if text == "-" else int(text)


async def merged_tree(tree: Worktree, target: str) -> tuple[str | None, list[str]]:
    """The tree of the branch merged into `target`'s head, or None and the files in conflict."""
    result = await run_git(tree.repo, "merge-tree", "--write-tree", "--name-only", f"refs/heads/{target}", tree.branch)
    lines = result.stdout.splitlines()
    if result.returncode == 0:
        return lines[0].strip(), []
    if result.returncode == 1:
        names = lines[1 : lines.index("")] if "" in lines else lines[1:]
        return None, names[:10]
    raise GitError(f"cannot merge {tree.branch} into {target}: {result.stderr.strip() or 'git merge-tree failed'}")


async def merge(tree: Worktree, mode: MergeMode, message: str) -> str:
    """Merge the branch into its target per `mode` and return the target's new head; GitError, nothing changed, on a conflict."""
    target = tree.target
    if target is None:
        raise GitError(f"{tree.branch} started from no branch, so there is none to merge into: merge it by hand")
    old = await git_out(tree.repo, "rev-parse", f"refs/heads/{target}")
    head = await git_out(tree.repo, "rev-parse", tree.branch)
    if mode == "ff":
        new = await _fast_forward(tree, old, head, target)
    else:
        new = await _merge_commit(tree, mode, old, head, message)
    await move_branch(tree.repo, target, old, new)
    return new


async def _fast_forward(tree: Worktree, old: str, head: str, target: str) -> str:
    if (await run_git(tree.repo, "merge-base", "--is-ancestor", old, head)).returncode != 0:
        raise GitError(f'{target} has moved on since {tree.branch} started: not a fast-forward; set merge = "merge" or '
                       + REWORK_HINT.format(target=target, branch=tree.branch))
    return head


async def _merge_commit(tree: Worktree, mode: MergeMode, old: str, head: str, message: str) -> str:
    assert tree.target is not None
    merged, conflicts = await merged_tree(tree, tree.target)
    if merged is None:
        raise GitError(f"{tree.branch} conflicts with {tree.target} in {', '.join(conflicts) or 'some files'}: "
                       + REWORK_HINT.format(target=tree.target, branch=tree.branch))
    parents = ["-p", old, "-p", head] if mode == "merge" else ["-p", old]
    return await git_out(tree.repo, "commit-tree", merged, *parents, "-m", message, env=await _committer(tree.repo))


async def _committer(repo: Path) -> dict[str, str]:
    """The user's own identity when git knows it, else tokenmaxx's, for the merge commit."""
    if (await run_git(repo, "var", "GIT_COMMITTER_IDENT")).returncode == 0:
        return {}
    return identity("tokenmaxx")


async def move_branch(repo: Path, target: str, old: str, new: str) -> None:
    """Move `target` from `old` to `new`: through its checkout by a fast-forward when it is checked out, else the ref alone."""
    checkout = next((w.path for w in await list_worktrees(repo) if w.branch == target), None)
    if checkout is None:
        await git_out(repo, "update-ref", "-m", "tokenmaxx: accepted", f"refs/heads/{target}", new, old)
        return
    dirty = await git_out(checkout, "status", "--porcelain", "--untracked-files=no")
    if dirty:
        raise GitError(f"{target} is checked out in {checkout} with uncommitted changes: commit or stash them, then accept again")
    result = await run_git(checkout, "merge", "--ff-only", "--quiet", new)
    if result.returncode != 0:
        raise GitError(f"cannot update {target} in {checkout}: {result.stderr.strip()}; nothing was changed")
