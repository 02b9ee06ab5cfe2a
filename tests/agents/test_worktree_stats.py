"""The coding agents' economics in `stats`, on both stores: changes accepted and rejected, rework, $ per accepted change, lines per $."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.agents import commands as cmd
from tokenmaxx.sessions.stats import compute_stats
from tokenmaxx.sessions.store_api import open_store
from tests.agents.scripted import until
from tests.agents.test_worktrees import agents_toml, diff_of, run_agents, setup
from tokenmaxx.tui.history_cli import stats_text


async def test_stats_count_changes_rework_and_lines_per_dollar(tmp_path: Path, store_target: Path | str) -> None:
    sup, sink, provider, repo = setup(tmp_path, agents_toml("a", "b"))
    await run_agents(sup)
    sup.handle(cmd.Accept(agent="a", path="a/changes.diff"))
    await until(lambda: diff_of(sup, "a").verdict == "accepted")
    sup.handle(cmd.Reject(agent="b", path="b/changes.diff", note="Smaller, please."))
    await until(lambda: sup.state.agents["b"].finished and diff_of(sup, "b").verdict is None)
    sup.handle(cmd.Reject(agent="b", path="b/changes.diff"))
    await sup.finish()
    async with await open_store(store_target) as store:
        await store.import_events(sink.events)
        stats = await compute_stats(store)
    total = stats.total
    assert (total.changes_accepted, total.changes_rejected, total.rework, total.lines_accepted) == (1, 1, 1, 5)
    assert total.usd_per_change == total.cost_usd and total.lines_per_usd == 5 / total.cost_usd
    (coder,) = stats.by["role"]
    assert (coder.key, coder.changes_accepted, coder.changes_rejected, coder.rework) == ("coder", 1, 1, 1)
    (harness,) = stats.by["harness"]
    assert harness.key == "sim" and harness.lines_accepted == 5
    text = stats_text(stats)
    assert "by role (changes)" in text and "by harness (changes)" in text and "rework rounds" in text
    table = text.split("by role (changes)")[1]
    row = next(line for line in table.splitlines() if line.startswith("coder"))
    assert row.split()[1:3] == ["1/1", "1"] and row.split()[-1] == f"{5 / total.cost_usd:,.0f}"
