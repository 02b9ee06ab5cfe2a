"""`tokenmaxx resume` asks before a fleet USD budget runs over agents it cannot price, as `run` does."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.agents.test_resume import kill_mid_run, write_plan


def resume(db: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    with sqlite3.connect(db) as conn:
        (session,) = conn.execute("SELECT id FROM sessions").fetchone()
    command = [sys.executable, "-m", "tokenmaxx.tui", "resume", session, "--headless", "--db", str(db), *flags]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_resume_over_an_unpriced_fleet_budget_refuses_headless_without_yes_and_runs_with_it(tmp_path: Path) -> None:
    plan, db = write_plan(tmp_path), tmp_path / "s.db"
    kill_mid_run(plan, db)
    text = plan.read_text().replace("stall_after = 30", "stall_after = 30\nbudget = { usd = 5.0 }")
    plan.write_text(text.replace("speed = 0.6", 'speed = 200\nprice_as = "no-such-model"'))
    refused = resume(db)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "cannot count the spend" in refused.stderr and "pass --yes" in refused.stderr
    assert "Traceback" not in refused.stderr and "resuming" not in refused.stdout
    accepted = resume(db, "--yes")
    assert "cannot count the spend" in accepted.stderr and "(accepted: --yes)" in accepted.stderr
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
