"""An agent that says it could not do its task ends failed, and the sim writes the deliverable a task names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from tokenmaxx.agents.plan import load_plan
from tokenmaxx.agents.starter import sample_plan_text
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions.log import EventLog
from tests.agents.scripted import MemorySink
from tokenmaxx.tui.cli import main

FAST_SIM = '\n[providers.sim]\nkind = "sim"\nspeed = 200\n'


def test_a_git_repositorys_plan_outside_one_fails_instead_of_reporting_success(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    (tmp_path / "fleet.toml").write_text(sample_plan_text() + FAST_SIM)
    result = CliRunner().invoke(main, ["run", "fleet.toml", "--headless", "--db", str(tmp_path / "s.db")])
    assert result.exit_code == 1, result.output
    assert "charts       FAILED: git did not give me the history" in result.output
    assert not [line for line in result.output.splitlines() if "DONE:" in line and ("can't" in line or "failed" in line)]


async def test_the_sim_writes_the_file_a_custom_agents_task_names(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "README.md").write_text("# Widget\n\nIt makes widgets.\n")
    agents = '[[agents]]\nname = "sum"\nrole = "summariser"\ntask = "Summarise README.md into summary.md."\n'
    roles = '[roles.summariser]\nprompt = "You summarise projects."\n'
    (tmp_path / "fleet.toml").write_text(f'name = "t"\nworkdir = "project"\nout = "out"\n{FAST_SIM}\n{roles}\n{agents}')
    plan = load_plan(tmp_path / "fleet.toml")
    sup = Supervisor(plan, store=None, log=EventLog(MemorySink(), "s1"))
    await sup.start()
    async with asyncio.timeout(20):
        await sup.wait()
    await sup.finish()
    agent = sup.state.agents["sum"]
    assert agent.outcome == "done" and [a.path for a in agent.artifacts] == ["sum/summary.md"]
    assert agent.summary.startswith("summary.md is written")
