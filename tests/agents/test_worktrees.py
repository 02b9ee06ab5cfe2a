"""Coding agents in git worktrees, on real repositories: isolation, the diff deliverable, merging, rework, cleanup."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.providers.base import ModelRequest
from tokenmaxx.agents.supervisor import CommandError, Supervisor
from tokenmaxx.agents.tools.sandbox import bwrap_problem
from tokenmaxx.agents.worktree_runs import REWORK_PREFIX
from tokenmaxx.sessions.log import EventLog
from tests.agents.gitrepo import branches, commit_files, git, make_repo
from tests.agents.scripted import MemorySink, ScriptedProvider, Step, make_plan, reply, until

HEAD = 'workspace = "worktree"\nsandbox = "none"\n'
README = "# Project\nline two\nline three\n"


def agents_toml(*names: str, extra: str = "") -> str:
    return "".join(
        f'[[agents]]\nname = "{name}"\nrole = "coder"\ntask = "Edit the readme."\n{extra}\n' for name in names
    )


ROLE = '[roles.coder]\nprompt = "You edit code."\ntools = ["read_file", "write_file", "run_command"]\n'


def turns(request: ModelRequest) -> int:
    return sum(1 for m in request.messages if m.role == "assistant")


def agent_of(request: ModelRequest) -> str:
    return request.system.split('You are the agent "')[1].split('"')[0]


def edit_script(request: ModelRequest) -> list[Step]:
    """Each agent reads README.md, rewrites its second line with its own name and adds a file of three lines."""
    name = agent_of(request)
    last = request.messages[-1].text
    if REWORK_PREFIX in last:
        return reply("Reworked.", ("write_file", {"path": "notes.txt", "content": "reworked\n"}))
    if turns(request) == 0:
        return reply("Reading.", ("read_file", {"path": "README.md"}))
    if turns(request) == 1:
        content = f"# Project\nline two by {name}\nline three\n"
        return reply("Editing.", ("write_file", {"path": "README.md", "content": content}), ("write_file", {"path": f"src/{name}.txt", "content": "a\nb\nc\n"}))
    return reply("Done.")


def setup(tmp_path: Path, agents: str, head: str = HEAD, script=edit_script) -> tuple[Supervisor, MemorySink, ScriptedProvider, Path]:  # type: ignore[no-untyped-def]
    repo = tmp_path / "project"
    make_repo(repo, {"README.md": README})
    plan = make_plan(tmp_path, ROLE + agents, head)
    sink = MemorySink()
    provider = ScriptedProvider(script)
    sup = Supervisor(plan, store=None, log=EventLog(sink, "s1"), providers={"sim": provider})
    return sup, sink, provider, repo


async def run_agents(sup: Supervisor) -> None:
    await sup.start()
    async with asyncio.timeout(20):
        await sup.wait()


def diff_of(sup: Supervisor, agent: str):  # type: ignore[no-untyped-def]
    return next(a for a in sup.state.agents[agent].artifacts if a.diff is not None)


async def test_two_agents_edit_the_same_file_without_seeing_each_other(tmp_path: Path) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a", "b"))
    await run_agents(sup)
    for name in ("a", "b"):
        tree = sup.worktrees.get(name)
        assert tree is not None and tree.branch == f"tokenmaxx/s1/{name}"
        assert (tree.path / "README.md").read_text() == f"# Project\nline two by {name}\nline three\n"
        assert not (tree.path / "src" / ("b.txt" if name == "a" else "a.txt")).exists()
        assert git(repo, "show", f"{tree.branch}:README.md") == f"# Project\nline two by {name}\nline three"
    reads = [r for r in provider.requests if turns(r) == 1]
    assert all("line two\n" in r.messages[-1].parts[0].output for r in reads)  # type: ignore[union-attr]
    assert (repo / "README.md").read_text() == README and git(repo, "status", "--porcelain") == ""
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    await sup.finish()


async def test_the_diff_artifact_counts_files_and_lines_exactly(tmp_path: Path) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a"))
    await run_agents(sup)
    artifact = diff_of(sup, "a")
    diff = artifact.diff
    assert artifact.path == "a/changes.diff"
    assert [(f.path, f.added, f.removed) for f in diff.files] == [("README.md", 1, 1), ("src/a.txt", 3, 0)]
    assert (diff.added, diff.removed, diff.applies, diff.target) == (4, 1, True, "main")
    patch = (tmp_path / "out" / "s1" / "a" / "changes.diff").read_text()
    assert "-line two\n+line two by a\n" in patch
    log = git(repo, "log", "--format=%an|%s", "tokenmaxx/s1/a")
    assert log.splitlines()[0] == "tokenmaxx agent a|a: work of tokenmaxx agent a in session s1"
    await sup.finish()


@pytest.mark.parametrize("mode", ["ff", "merge", "squash"])
async def test_accept_merges_into_the_checked_out_base(tmp_path: Path, mode: str) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a"), HEAD + f'merge = "{mode}"\n')
    before = git(repo, "rev-parse", "main")
    await run_agents(sup)
    sup.handle(cmd.Accept(agent="a", path="a/changes.diff"))
    await until(lambda: diff_of(sup, "a").verdict == "accepted")
    head = git(repo, "rev-parse", "main")
    branch = git(repo, "rev-parse", "tokenmaxx/s1/a")
    parents = git(repo, "log", "-1", "--format=%P", "main").split()
    expected = {"ff": [before], "merge": [before, branch], "squash": [before]}[mode]
    assert (head == branch) == (mode == "ff") and parents == (expected if mode != "ff" else parents)
    assert (repo / "README.md").read_text() == "# Project\nline two by a\nline three\n"
    assert (repo / "src" / "a.txt").read_text() == "a\nb\nc\n" and git(repo, "status", "--porcelain") == ""
    assert sup.state.accepted == 1 and sup.state.lines_accepted == 5
    await sup.finish()
    assert "tokenmaxx/s1/a" not in branches(repo) and not sup.worktrees.get("a").path.exists()  # type: ignore[union-attr]


async def test_a_conflicting_accept_is_refused_and_the_checkout_is_untouched(tmp_path: Path) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a"))
    await run_agents(sup)
    mine = commit_files(repo, {"README.md": "# Project\nline two by me\nline three\n"}, "my edit")
    (repo / "scratch.txt").write_text("untracked\n")
    sup.handle(cmd.Accept(agent="a", path="a/changes.diff"))
    await until(lambda: bool(diff_of(sup, "a").diff.refused))
    diff = diff_of(sup, "a").diff
    assert "conflicts with main in README.md" in diff.refused and not diff.applies
    assert git(repo, "rev-parse", "main") == mine and git(repo, "status", "--porcelain") == "?? scratch.txt"
    assert (repo / "README.md").read_text() == "# Project\nline two by me\nline three\n"
    assert diff_of(sup, "a").verdict is None and sup.state.accepted == 0
    await sup.finish()
    assert "tokenmaxx/s1/a" in branches(repo)  # still in review: kept


async def test_reject_with_a_note_goes_back_to_the_agent_as_rework(tmp_path: Path) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a"))
    await run_agents(sup)
    first = diff_of(sup, "a").sha256
    sup.handle(cmd.Reject(agent="a", path="a/changes.diff", note="Add notes.txt too."))
    assert sup.state.rework == 1
    await until(lambda: diff_of(sup, "a").sha256 != first and sup.state.agents["a"].finished)
    assert f"[supervisor] {REWORK_PREFIX}Add notes.txt too." in provider.requests[-2].messages[-1].text
    assert [f.path for f in diff_of(sup, "a").diff.files] == ["README.md", "notes.txt", "src/a.txt"]
    assert diff_of(sup, "a").verdict is None and sup.state.rework == 1
    await sup.finish()


async def test_a_running_agent_s_diff_cannot_be_reviewed_twice(tmp_path: Path) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a"))
    await run_agents(sup)
    sup.handle(cmd.Reject(agent="a", path="a/changes.diff"))
    with pytest.raises(CommandError, match="already rejected"):
        sup.handle(cmd.Accept(agent="a", path="a/changes.diff"))
    await sup.finish()
    assert "tokenmaxx/s1/a" not in branches(repo)


async def test_keep_worktrees_keeps_reviewed_ones(tmp_path: Path) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a"), HEAD + "keep_worktrees = true\n")
    await run_agents(sup)
    sup.handle(cmd.Reject(agent="a", path="a/changes.diff"))
    await sup.finish()
    assert "tokenmaxx/s1/a" in branches(repo) and sup.worktrees.get("a").path.exists()  # type: ignore[union-attr]


async def test_a_dirty_checkout_is_refused_and_nothing_is_made(tmp_path: Path) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a"))
    (repo / "README.md").write_text("uncommitted\n")
    await run_agents(sup)
    agent = sup.state.agents["a"]
    assert agent.outcome == "failed" and "uncommitted changes (README.md): commit or stash them" in agent.summary
    assert branches(repo) == ["main"] and provider.requests == []
    assert (repo / "README.md").read_text() == "uncommitted\n"
    await sup.finish()


@pytest.mark.parametrize(
    ("extra", "prepare", "message"),
    [
        ('base = "nope"', None, 'base nope is not a commit'),
        ("", "branch", "branch tokenmaxx/s1/a already exists: run `tokenmaxx gc`"),
        ("", "no-git", "is not a git repository: run `git init`"),
    ],
)
async def test_bad_starting_points_fail_the_agent_with_the_fix(tmp_path: Path, extra: str, prepare: str | None, message: str) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a", extra=extra))
    if prepare == "branch":
        git(repo, "branch", "tokenmaxx/s1/a")
    elif prepare == "no-git":
        import shutil

        shutil.rmtree(repo / ".git")
    await run_agents(sup)
    assert sup.state.agents["a"].outcome == "failed" and message in sup.state.agents["a"].summary
    await sup.finish()


async def test_a_downstream_agent_starts_from_its_upstream_s_branch(tmp_path: Path) -> None:
    agents = agents_toml("a") + '[[agents]]\nname = "b"\nrole = "coder"\ntask = "Go on."\nafter = ["a"]\nbase = "agent:a"\n'
    sup, sink, provider, repo = setup(tmp_path, agents)
    await run_agents(sup)
    tree = sup.worktrees.get("b")
    assert tree is not None and tree.target == "tokenmaxx/s1/a"
    assert (tree.path / "src" / "a.txt").exists() and (tree.path / "src" / "b.txt").exists()
    assert [f.path for f in diff_of(sup, "b").diff.files] == ["README.md", "src/b.txt"]
    await sup.finish()


def command_script(request: ModelRequest) -> list[Step]:
    """One command that edits the worktree, reads its history and tries to escape into the user's checkout."""
    if turns(request) == 0:
        command = 'printf "more\\n" >> README.md && git log --format=%s && touch "$TOKENMAXX_OUT/../../project/escaped"'
        return reply("Running.", ("run_command", {"command": command}))
    return reply("Done.")


@pytest.mark.skipif(bwrap_problem() is not None, reason="bubblewrap cannot run here")
async def test_commands_in_the_sandbox_write_the_worktree_and_nothing_else(tmp_path: Path) -> None:
    head = 'workspace = "worktree"\nsandbox = "bwrap"\n'
    agents = agents_toml("a", extra='policy = { run_command = "auto" }')
    sup, sink, provider, repo = setup(tmp_path, agents, head, script=command_script)
    await run_agents(sup)
    output = provider.requests[1].messages[-1].parts[0].output  # type: ignore[union-attr]
    assert output.startswith("initial\n")
    assert not (repo / "escaped").exists() and (repo / "README.md").read_text() == README
    assert [(f.path, f.added) for f in diff_of(sup, "a").diff.files] == [("README.md", 1)]
    await sup.finish()


async def test_the_meter_counts_rework_and_lines_per_dollar(tmp_path: Path) -> None:
    from tokenmaxx.tui.widgets.token_meter import _code_outcomes

    sup, sink, provider, repo = setup(tmp_path, agents_toml("a", "b"))
    await run_agents(sup)
    sup.handle(cmd.Accept(agent="a", path="a/changes.diff"))
    await until(lambda: diff_of(sup, "a").verdict == "accepted")
    sup.handle(cmd.Reject(agent="b", path="b/changes.diff", note="Smaller, please."))
    state = sup.state
    assert (state.accepted, state.rejected, state.rework, state.lines_accepted) == (1, 1, 1, 5)
    assert _code_outcomes(state) == f"  rework 1  {5 / state.cost_usd:,.0f} lines/$"
    await until(lambda: sup.state.agents["b"].finished and diff_of(sup, "b").verdict is None)
    await sup.finish()
