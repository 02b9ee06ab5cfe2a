"""Claude Code and Codex agents in git worktrees, against the local fakes: each edits its worktree, the diff counts, accept merges."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.runners.codex_home import find_codex
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions.store import Store
from tests.agents.gitrepo import branches, git, make_repo
from tests.agents.scripted import make_plan, until
from tests.fakes import Call, anthropic_server, responses_server
from tests.fakes.anthropic_server import AnthropicFakeServer
from tests.fakes.responses_server import ResponsesFakeServer

HANG_GUARD_S = 60
README = "# Project\nline two\nline three\n"
EDITED = "# Project\nline two, edited\nline three\nline four\n"
PRINTF = "printf '" + EDITED.replace("\n", "\\n") + "' > README.md"
HEAD = 'workspace = "worktree"\n'


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_MODEL_KEY", "sk-test-worktree-claude")
    monkeypatch.setenv("CODEX_TEST_KEY", "sk-test-worktree-codex")
    monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")


@pytest.fixture
def claude() -> Iterator[AnthropicFakeServer]:
    with AnthropicFakeServer() as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def codex() -> Iterator[ResponsesFakeServer]:
    with ResponsesFakeServer() as fake:
        yield fake
    assert fake.errors == []


def claude_agent(base_url: str) -> tuple[str, str]:
    head = HEAD + f'[providers.fake]\nkind = "anthropic"\nbase_url = "{base_url}"\napi_key_env = "TEST_MODEL_KEY"\n'
    agent = (
        '[[agents]]\nname = "cc"\nrole = "coder"\nprovider = "fake"\nmodel = "claude-sonnet-4-6"\n'
        'harness = "claude-code"\ntask = "Edit the readme."\n[agents.policy]\nrun_command = "auto"\nwrite_file = "auto"\n'
    )
    return head, agent


def codex_agent(base_url: str) -> tuple[str, str]:
    head = HEAD + f'[providers.remote]\nkind = "openai"\nbase_url = "{base_url}"\napi_key_env = "CODEX_TEST_KEY"\n'
    agent = (
        '[[agents]]\nname = "cx"\nrole = "coder"\nprovider = "remote"\nmodel = "gpt-4o"\nharness = "codex"\n'
        'task = "Edit the readme."\npolicy = { run_command = "auto" }\n'
    )
    return head, agent


ROLE = '[roles.coder]\nprompt = "You edit code."\ntools = ["read_file", "write_file", "run_command"]\n'


async def run_in_worktree(tmp_path: Path, head: str, agent: str, name: str) -> tuple[Supervisor, Store, Path]:
    repo = tmp_path / "project"
    make_repo(repo, {"README.md": README})
    plan = make_plan(tmp_path, ROLE + agent, head)
    store = await Store.open(tmp_path / "s.db")
    sup = Supervisor.create(plan, store, headless=True)
    await sup.start()
    async with asyncio.timeout(HANG_GUARD_S):
        await sup.wait()
    assert sup.state.agents[name].outcome == "done", sup.state.agents[name]
    return sup, store, repo


async def accepted_and_merged(sup: Supervisor, store: Store, repo: Path, name: str) -> None:
    """The diff counts exactly; accept fast-forwards main in the user's checkout; the worktree goes at the end."""
    tree = sup.worktrees.get(name)
    assert tree is not None and (tree.path / "README.md").read_text() == EDITED
    assert (repo / "README.md").read_text() == README
    (artifact,) = [a for a in sup.state.agents[name].artifacts if a.diff is not None]
    assert [(f.path, f.added, f.removed) for f in artifact.diff.files] == [("README.md", 2, 1)]
    assert (artifact.diff.added, artifact.diff.removed, artifact.diff.applies) == (2, 1, True)
    sup.handle(cmd.Accept(agent=name, path=artifact.path))
    await until(lambda: sup.state.agents[name].artifacts[-1].verdict == "accepted", HANG_GUARD_S)
    assert (repo / "README.md").read_text() == EDITED and git(repo, "status", "--porcelain") == ""
    await sup.finish()
    await store.close()
    assert branches(repo) == ["main"] and not tree.path.exists()


@pytest.mark.slow
@pytest.mark.parametrize("tool", ["Write", "Bash"])
async def test_claude_code_edits_its_worktree_and_accept_merges_it(tmp_path: Path, claude: AnthropicFakeServer, tool: str) -> None:
    pytest.importorskip("claude_agent_sdk", reason="Claude Code tests need the extra: pip install -e '.[claude-code]'")
    head, agent = claude_agent(claude.base_url)
    tree = tmp_path / "project" / ".git" / "tokenmaxx"
    if tool == "Write":
        call = Call("toolu_edit", "Write", {"file_path": "README.md", "content": EDITED})
    else:
        call = Call("toolu_edit", "Bash", {"command": PRINTF})
    claude.enqueue(anthropic_server.tool_reply(call), anthropic_server.text_reply("Edited."))
    sup, store, repo = await run_in_worktree(tmp_path, head, agent, "cc")
    assert tree.is_dir()
    await accepted_and_merged(sup, store, repo, "cc")


@pytest.mark.slow
@pytest.mark.skipif(find_codex() is None, reason="the Codex CLI is not installed (npm install --prefix /opt/codex @openai/codex)")
async def test_codex_edits_its_worktree_and_accept_merges_it(tmp_path: Path, codex: ResponsesFakeServer) -> None:
    head, agent = codex_agent(codex.base_url)
    codex.enqueue(responses_server.command_reply(PRINTF, call_id="call_edit"), responses_server.text_reply("Edited."))
    sup, store, repo = await run_in_worktree(tmp_path, head, agent, "cx")
    await accepted_and_merged(sup, store, repo, "cx")
