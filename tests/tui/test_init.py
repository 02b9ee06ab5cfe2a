"""`tokenmaxx init` writes a plan whose agents have their inputs where it is run, and says what it wrote and why."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from tokenmaxx.tui.cli import main

FAST_SIM = '\n[providers.sim]\nkind = "sim"\nspeed = 200\n'
DELIVERABLES = {
    "charts": {"loc.csv", "loc.svg"},
    "logs": {"failures.csv", "failures.svg"},
    "factcheck": {"report.md"},
    "deck": {"index.html"},
    "critique": {"critique.md"},
}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder, the working directory, that git sees as in no repository."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    return tmp_path


def init_and_run(folder: Path) -> tuple[str, str, Path]:
    """Run `init`, then the plan headless on a fast sim; return both outputs and the session's out folder."""
    written = CliRunner().invoke(main, ["init"])
    assert written.exit_code == 0, written.output
    with (folder / "fleet.toml").open("a") as plan:
        plan.write(FAST_SIM)
    ran = CliRunner().invoke(main, ["run", "fleet.toml", "--headless", "--db", str(folder / "s.db")])
    assert ran.exit_code == 0, ran.output
    (session,) = (folder / "tokenmaxx-out").iterdir()
    return written.output, ran.output, session


def assert_all_delivered(output: str, session: Path, agents: list[str]) -> None:
    assert f"{len(agents)}/{len(agents)} done" in output
    for agent in agents:
        produced = {path.name for path in (session / agent).iterdir() if path.stat().st_size > 0}
        assert DELIVERABLES[agent] <= produced, agent


def git(folder: Path, *args: str) -> None:
    config = ["-c", "user.name=T", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *config, *args], cwd=folder, check=True, capture_output=True)


def test_init_outside_a_git_repository_makes_a_sample_project_every_agent_delivers_on(folder: Path) -> None:
    said, output, session = init_and_run(folder)
    assert "tokenmaxx-sample" in said and "not in a git repository" in said
    assert 'workdir = "tokenmaxx-sample"' in (folder / "fleet.toml").read_text()
    assert "# Written by `tokenmaxx init`" in (folder / "fleet.toml").read_text()
    assert (folder / "tokenmaxx-sample" / "inputs" / "talk-notes.md").is_file()
    assert_all_delivered(output, session, ["charts", "logs", "factcheck", "deck", "critique"])


def test_init_in_a_git_repository_keeps_to_the_agents_it_supports(folder: Path) -> None:
    git(folder, "init", "-q")
    for number in (1, 2):
        (folder / "app.py").write_text("print('hello')\n" * number)
        git(folder, "add", "app.py")
        git(folder, "commit", "-q", "-m", f"commit {number}")
    said, output, session = init_and_run(folder)
    assert "no *.log files" in said and "no fact-checker" in said
    assert not (folder / "tokenmaxx-sample").exists()
    assert_all_delivered(output, session, ["charts", "logs", "deck", "critique"])
    assert "factcheck" not in output


def test_init_in_a_git_repository_with_logs_and_claims_names_them(folder: Path) -> None:
    git(folder, "init", "-q")
    (folder / "build.log").write_text("ERROR timeout\n")
    (folder / "claims.md").write_text("- The app prints hello.\n")
    (folder / "README.md").write_text("The app prints hello.\n")
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "start")
    said, output, session = init_and_run(folder)
    assert "build.log" in said and "claims.md against README.md" in said
    assert "Check each claim in claims.md against README.md" in (folder / "fleet.toml").read_text()
    assert_all_delivered(output, session, ["charts", "logs", "factcheck", "deck", "critique"])


def test_init_still_refuses_an_existing_plan_without_force(folder: Path) -> None:
    (folder / "fleet.toml").write_text("mine")
    refused = CliRunner().invoke(main, ["init"])
    assert refused.exit_code == 2 and "already exists; use --force" in refused.output
    assert (folder / "fleet.toml").read_text() == "mine" and not (folder / "tokenmaxx-sample").exists()


def test_init_leaves_a_folder_of_the_sample_projects_name_alone(folder: Path) -> None:
    (folder / "tokenmaxx-sample").mkdir()
    (folder / "tokenmaxx-sample" / "mine.txt").write_text("keep")
    refused = CliRunner().invoke(main, ["init"])
    assert refused.exit_code == 2 and "is not tokenmaxx's sample project" in refused.output
    assert (folder / "tokenmaxx-sample" / "mine.txt").read_text() == "keep"
