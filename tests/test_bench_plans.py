"""The benchmarks' plans are plans the loader accepts, so the benchmarks run."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.agents.plan import load_plan
from tokenmaxx.agents.plan_models import MAX_LOOP_TIMES
from bench.fleet_bench import plan_for


def test_the_fleet_bench_plan_loops_as_often_as_a_plan_allows(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, 3, 1.0)
    assert [a.loop.times for a in plan.agents] == [MAX_LOOP_TIMES] * 3  # type: ignore[union-attr]
    assert load_plan(tmp_path / "fleet.toml").name == "fleet-bench"
