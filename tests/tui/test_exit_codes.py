"""The TUI's exit code follows the README's table: an agent killed is 1 even when the session ended `stopped`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tokenmaxx.agents import commands as cmd
from tests.agents.scripted import until
from tokenmaxx.tui.app import TokenmaxxApp
from tokenmaxx.tui.cli import main
from tokenmaxx.tui.remote_fleet import RemoteFleet

AGENT = """
[[agents]]
name = "{name}"
role = "critic"
provider = "sim"
task = "Read."
sim = {{ stall_at_turn = 1 }}
"""
PLAN = 'name = "t"\nworkdir = "project"\nout = "out"\n' + AGENT.format(name="a") + AGENT.format(name="b")


def closed_after(kill: bool):  # type: ignore[no-untyped-def]
    """A stand-in for the TUI's run: attached to the fleet, the user kills `a` (or not), then stops the fleet with `b` still running."""

    async def run_async(app: TokenmaxxApp) -> None:
        fleet = app.fleet
        assert isinstance(fleet, RemoteFleet)
        await until(lambda: all(a.status == "streaming" for a in fleet.state.agents.values()), timeout=20)
        if kill:
            fleet.handle(cmd.Kill(agent="a"))
            await until(lambda: fleet.state.agents["a"].finished)
        app.stop_asked = True
        fleet.stop_fleet()

    return run_async


@pytest.mark.parametrize(("kill", "code"), [(True, 1), (False, 0)])
def test_a_tui_run_closed_with_an_agent_killed_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kill: bool, code: int) -> None:
    monkeypatch.setattr(TokenmaxxApp, "run_async", closed_after(kill))
    monkeypatch.setattr("tokenmaxx.tui.cli.has_terminal", lambda: True)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "project").mkdir()
    (tmp_path / "fleet.toml").write_text(PLAN)
    result = CliRunner().invoke(main, ["run", "fleet.toml", "--db", str(tmp_path / "s.db")], catch_exceptions=False)
    assert result.exit_code == code, result.output
    listed = CliRunner().invoke(main, ["sessions", "--status", "stopped", "--db", str(tmp_path / "s.db")])
    assert listed.exit_code == 0 and "t" in listed.stdout
