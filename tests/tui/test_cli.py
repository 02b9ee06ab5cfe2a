"""The `tokenmaxx` command as a user runs it: the headless demo's deliverables, and clear exits on bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tokenmaxx.agents.demo.sample_repo import commit_days, create_sample_repo


def tokenmaxx(*args: str, cwd: Path, db: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmaxx.tui", *args, "--db", str(db)] if args[0] not in ("init",) else [sys.executable, "-m", "tokenmaxx.tui", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)


@pytest.mark.slow
def test_the_headless_demo_delivers_five_right_artifacts(tmp_path: Path) -> None:
    repo = create_sample_repo(tmp_path / "repo")
    result = tokenmaxx("demo", "--headless", "--speed", "3", "--out", str(tmp_path / "out"), cwd=repo, db=tmp_path / "s.db")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FLAGGED looping" in result.stdout and "FLAGGED stalled" in result.stdout
    assert "watchdog -> restart" in result.stdout and "watchdog -> reprompt" in result.stdout
    (session,) = [p for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")]

    svg = ET.parse(session / "charts" / "loc.svg").getroot()
    days = [el.get("data-day") for el in svg.iter() if el.get("data-day")]
    assert days == sorted(set(commit_days()))

    parser = _Collector()
    html = (session / "deck" / "index.html").read_text()
    parser.feed(html)
    assert "svg" in parser.tags and "loc.svg" in html and "failures.svg" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?https?:""", html)

    report = (session / "factcheck" / "report.md").read_text()
    verdicts = [v for line in report.splitlines() for v in ("supported", "contradicted", "unverifiable") if f"| {v}" in line.lower()]
    assert len(verdicts) == 8
    assert (session / "logs" / "failures.csv").read_text().startswith("bucket,root_cause,count")
    assert (session / "critique" / "critique.md").stat().st_size > 200

    listed = json.loads(tokenmaxx("sessions", "--json", cwd=repo, db=tmp_path / "s.db").stdout)
    assert listed[0]["status"] == "done" and listed[0]["agents"] == 5
    assert set(listed[0]) >= {"id", "name", "started_at", "ended_at", "tokens", "cost_usd", "unknown_price_tokens", "accepted", "rejected"}


def test_a_broken_plan_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    (tmp_path / "fleet.toml").write_text('name = "x"\n\n[[agents]]\nname = "a"\nrole = "critic"\ntask = "t"\nafter = ["dek"]\n')
    result = tokenmaxx("run", "fleet.toml", "--headless", cwd=tmp_path, db=tmp_path / "s.db")
    assert result.returncode == 2
    assert result.stderr.strip() == 'tokenmaxx: fleet.toml:7: agents[0].after: unknown agent "dek"'
    assert "Traceback" not in result.stderr


def test_init_writes_a_plan_that_runs_and_refuses_to_overwrite(tmp_path: Path) -> None:
    first = tokenmaxx("init", cwd=tmp_path, db=tmp_path / "s.db")
    assert first.returncode == 0 and (tmp_path / "fleet.toml").exists()
    again = tokenmaxx("init", cwd=tmp_path, db=tmp_path / "s.db")
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.parametrize("content", [b"not a database at all" * 10, b"SQLite format 3\x00" + b"\xff" * 200])
def test_a_corrupt_database_is_named_and_left_alone(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "s.db"
    db.write_bytes(content)
    result = tokenmaxx("sessions", cwd=tmp_path, db=db)
    assert result.returncode == 2 and str(db) in result.stderr and "Traceback" not in result.stderr
    assert db.read_bytes() == content


def test_sessions_on_a_new_machine_says_how_to_start(tmp_path: Path) -> None:
    result = tokenmaxx("sessions", cwd=tmp_path, db=tmp_path / "none.db")
    assert result.returncode == 0 and "tokenmaxx demo" in result.stdout


def test_help_does_not_import_the_sdks() -> None:
    code = "import sys; from tokenmaxx.tui.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit: pass\nprint(sorted(m for m in ('anthropic', 'openai', 'textual') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().endswith("[]"), result.stdout + result.stderr


TERMINAL_GRANTED = "import tokenmaxx.tui.cli as cli; cli.has_terminal = lambda: True; cli.main()"
"""The command as if run in a terminal, for the errors it reports before the TUI opens."""


def test_a_broken_config_file_exits_2_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text("[settings]\ntheme = 12\n")
    (tmp_path / "fleet.toml").write_text('name = "x"\n[[agents]]\nname = "a"\nrole = "critic"\ntask = "t"\n')
    result = subprocess.run(
        [sys.executable, "-c", TERMINAL_GRANTED, "run", "fleet.toml", "--db", str(tmp_path / "s.db")],
        cwd=tmp_path,
        env={**__import__("os").environ, "TOKENMAXX_CONFIG_DIR": str(config)},
        capture_output=True,
        text=True,
        timeout=60,
        input="",
    )
    assert result.returncode == 2, result.stderr
    assert "config.toml" in result.stderr and "Traceback" not in result.stderr


def test_closing_the_tui_detaches_and_the_fleet_runs_on_until_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from tokenmaxx.tui.app import TokenmaxxApp
    from tokenmaxx.tui.cli import main

    async def closed_at_once(app: TokenmaxxApp) -> None:
        assert app.on_start is None  # the fleet runs in its own process, started before the app

    monkeypatch.setattr(TokenmaxxApp, "run_async", closed_at_once)
    monkeypatch.setattr("tokenmaxx.tui.cli.has_terminal", lambda: True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOKENMAXX_DB", raising=False)
    (tmp_path / "project").mkdir()
    plan = 'name = "t"\nworkdir = "project"\nout = "out"\n[[agents]]\nname = "a"\nrole = "critic"\nprovider = "sim"\ntask = "Read."\n'
    (tmp_path / "fleet.toml").write_text(plan)
    db = tmp_path / "s.db"
    result = CliRunner().invoke(main, ["run", "fleet.toml", "--db", str(db)], catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout.startswith("detached: the fleet runs on (pid "), result.stdout
    session = result.stdout.split("tokenmaxx stop ")[1].strip()
    assert len(session) == 12 and (tmp_path / "out" / session / "fleet.log").exists()
    stopped = CliRunner().invoke(main, ["stop", session[:6]])
    assert stopped.exit_code == 0 and stopped.stdout == f"stopped the fleet of session {session}\n"
    replayed = CliRunner().invoke(main, ["replay", session[:4], "--headless", "--db", str(db)])
    assert replayed.exit_code == 0 and session in replayed.stdout
