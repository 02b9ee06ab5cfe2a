"""What the CLI prints (headless progress, `sessions`, `stats`, `replay --headless`, `export --format md`) shows hostile text as placeholders."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tokenmaxx.agents.providers.base import ModelRequest, ProviderFailure
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions.export import read_jsonl, write_jsonl
from tests.agents.scripted import ScriptedProvider, Step, make_plan, reply
from tests.hostile_text import HOSTILE, OSC0_TITLE, assert_shown_safely, hostile_session, raw_controls
from tokenmaxx.tui import runner
from tokenmaxx.tui.cli import main

AGENTS = """
[[agents]]
name = "writer"
role = "chart-builder"
task = "Write the note."

[[agents]]
name = "failer"
role = "critic"
task = "Fail."
"""


def tokenmaxx(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


@pytest.fixture
def hostile_db(tmp_path: Path) -> Path:
    """A database holding one imported session whose every name and text carries escape sequences."""
    shared = tmp_path / "hostile.jsonl"
    with shared.open("w", encoding="utf-8") as file:
        write_jsonl(hostile_session(), file)
    db = tmp_path / "mine.db"
    imported = tokenmaxx("import", shared, "--db", db)
    assert imported.exit_code == 0, imported.output
    return db


def test_sessions_lists_a_hostile_name_as_placeholders(hostile_db: Path) -> None:
    listed = tokenmaxx("sessions", "--db", hostile_db)
    assert listed.exit_code == 0
    assert_shown_safely(listed.stdout)


def test_stats_shows_hostile_roles_models_and_plans_as_placeholders(hostile_db: Path) -> None:
    printed = tokenmaxx("stats", "--db", hostile_db)
    assert printed.exit_code == 0
    assert_shown_safely(printed.stdout)


def test_a_headless_replay_shows_hostile_markers_as_placeholders(hostile_db: Path) -> None:
    printed = tokenmaxx("replay", "badc0ffee001", "--headless", "--db", hostile_db)
    assert printed.exit_code == 0
    assert_shown_safely(printed.stdout)


def test_the_markdown_export_shows_placeholders_and_the_jsonl_keeps_the_exact_text(hostile_db: Path, tmp_path: Path) -> None:
    markdown = tokenmaxx("export", "badc0ffee001", "--format", "md", "--db", hostile_db)
    assert markdown.exit_code == 0
    assert_shown_safely(markdown.stdout)
    assert tokenmaxx("export", "badc0ffee001", "-o", tmp_path / "again.jsonl", "--db", hostile_db).exit_code == 0
    assert read_jsonl(tmp_path / "again.jsonl") == hostile_session()


def test_a_jsonl_export_printed_to_the_terminal_escapes_every_control_and_decodes_exactly(hostile_db: Path, tmp_path: Path) -> None:
    """JSON may carry C1 controls and bidi overrides raw; the export writes them as \\u escapes, so the data is exact."""
    printed = tokenmaxx("export", "badc0ffee001", "--db", hostile_db)
    assert printed.exit_code == 0
    assert raw_controls(printed.stdout) == []
    (tmp_path / "printed.jsonl").write_text(printed.stdout)
    assert read_jsonl(tmp_path / "printed.jsonl") == hostile_session()


def hostile_model(request: ModelRequest) -> list[Step]:
    """The writer writes a file with an OSC 0 in its name and says hostile things; the failer's server answers with them."""
    if request.agent == "failer":
        return [ProviderFailure("server", f"502 {HOSTILE}", retryable=False)]
    if len(request.messages) == 1:
        return reply(f"{HOSTILE}\n", ("write_file", {"path": f"notes{OSC0_TITLE}.md", "content": HOSTILE}))
    return reply(f"Done. {HOSTILE}")


async def test_headless_progress_and_summary_show_model_and_server_text_as_placeholders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    create = Supervisor.create
    provider = ScriptedProvider(hostile_model)
    monkeypatch.setattr(Supervisor, "create", lambda plan, store, **options: create(plan, store, providers={"sim": provider}, **options))
    lines: list[str] = []
    await runner.run_headless(make_plan(tmp_path, AGENTS), tmp_path / "s.db", yes=True, echo=lines.append)
    printed = "\n".join(lines)
    assert "artifact writer/notes␛]0;pwned title␇.md" in printed
    assert_shown_safely(printed)
