"""The example plans load, and each names the key or server it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenmaxx.agents.plan import load_plan

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))


def test_there_is_an_example_per_provider_kind() -> None:
    kinds = {load_plan(p).providers[next(iter(load_plan(p).providers))].kind for p in EXAMPLES}
    assert {p.stem for p in EXAMPLES} >= {"anthropic", "openai", "ollama"} and kinds == {"anthropic", "openai"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_loads_and_says_how_to_run_it(path: Path) -> None:
    plan = load_plan(path)
    assert plan.agents and plan.workdir == path.parents[1]
    assert f"tokenmaxx run examples/{path.name}" in path.read_text()
    for agent in plan.agents:
        config = plan.provider_config(agent.provider)
        assert config.kind != "sim" and plan.model_for(agent)
