"""Plan edits and loop mode on screen: notes in the pane and the table, withdrawn agents dimmed, the rejected-edit banner, iteration costs."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.sessions import events as ev
from tests.tui.fake_fleet import T0
from tests.tui.helpers import SIZE, fleet_of, make_app, pane, select, settle, shown
from tokenmaxx.tui.widgets.agent_table import AgentTable
from tokenmaxx.tui.widgets.flag_banner import FlagBanner
from tokenmaxx.tui.widgets.iteration_costs import IterationCosts

PLANNED = ["charts", "logs", "facts", "deck", "critic", "local", "flaky", "review"]


def reload(changed: list[str], removed: list[str] = ()) -> ev.PlanLoaded:  # type: ignore[assignment]
    agents = [name for name in PLANNED if name not in removed]
    return ev.PlanLoaded(path="fleet.toml", agents=agents, reload=True, changed_on_restart=changed, budget_usd=5.0, ts=T0 + 121)


async def test_panes_and_rows_say_what_a_plan_edit_means(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(200, 40)) as pilot:
        fleet_of(app).feed(reload(["charts"], removed=["logs", "review"]), ev.AgentFinished(agent="review", outcome="skipped", ts=T0 + 122))
        await settle(pilot)
        assert "plan changed: takes effect on restart (R)" in shown(pane(app, "charts"))
        assert "removed from plan, still running" in shown(pane(app, "logs"))
        assert "withdrawn: removed from the plan before it started" in shown(pane(app, "review"))
        await pilot.press("t")
        await settle(pilot)
        rows = "\n".join(row.plain for row in app.screen.query_one(AgentTable).rows())
        assert "plan changed: takes effect on restart (R)" in rows and "removed from plan, still running" in rows
        assert "iter 3/5" in rows


async def test_a_rejected_edit_shows_file_and_line_until_a_good_save(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        fleet_of(app).feed(ev.PlanRejected(path="/plans/fleet.toml", error='line 13: agents[1].after: unknown agent "dek"', ts=T0 + 121))
        await settle(pilot)
        banner = app.screen.query_one(FlagBanner)
        assert 'plan edit rejected: /plans/fleet.toml: line 13: agents[1].after: unknown agent "dek"' in banner.message
        fleet_of(app).feed(reload([]))
        await settle(pilot)
        assert "plan edit rejected" not in banner.message


async def test_the_agent_screen_shows_each_iterations_cost_apart(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, "critic")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await settle(pilot)
        costs = app.screen.query_one(IterationCosts)
        assert costs.display and costs.border_title == "iterations · iter 3/5"
        assert str(costs.render()) == "1: $0.0105 · 2: $0.0105 · 3: $0.0000 (running)"


async def test_a_loop_capped_by_spend_shows_the_iteration_and_the_cap(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        fleet_of(app).feed(ev.AgentQueued(agent="critic", role="critic", provider="sim", model="claude-sonnet-4-6", loop_times=0, loop_until_usd=0.5, ts=T0 + 121))
        await settle(pilot)
        assert "iter 3 ≤$0.5000" in shown(pane(app, "critic"))
