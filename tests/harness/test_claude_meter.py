"""The harness's own cost per turn, from the CLI's cumulative `total_cost_usd`, whether or not a new CLI process took up the session's total."""

from __future__ import annotations

from typing import Any

import pytest

from tokenmaxx.agents.providers.base import Usage
from tokenmaxx.agents.runners.claude_meter import TurnMeter
from tokenmaxx.sessions import events as ev


class Host:
    """Records what the meter emits; prices nothing."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def emit(self, event: ev.Event) -> ev.Event:
        self.events.append(event)
        return event

    def price(self, agent: str, usage: Usage) -> tuple[float | None, float | None]:
        return None, None


def turn(meter: TurnMeter, input_tokens: int, total_cost: float, counted_input: int) -> None:
    meter.begin_turn()
    meter.on_stream({"type": "message_start", "message": {"usage": {"input_tokens": input_tokens, "output_tokens": 1}}})
    meter.on_stream({"type": "message_delta", "usage": {"output_tokens": 10}})
    model_usage: dict[str, Any] = {"m": {"inputTokens": counted_input, "costUSD": total_cost}}
    meter.settle({"input_tokens": input_tokens, "output_tokens": 10}, total_cost, model_usage)


def harness_costs(host: Host) -> list[float]:
    return [e.harness_cost_usd for e in host.events if isinstance(e, ev.UsageReported) and e.harness_cost_usd]


@pytest.mark.parametrize("restored", [True, False], ids=["total-taken-up", "total-started-afresh"])
def test_a_new_cli_process_never_counts_a_turn_twice(restored: bool) -> None:
    host = Host()
    meter = TurnMeter(host, "cc", "p", "m")  # type: ignore[arg-type]
    meter.new_process()
    turn(meter, 100, 0.01, counted_input=100)
    turn(meter, 100, 0.02, counted_input=200)
    meter.new_process()  # a resume, after a clean exit (the CLI saved its total) or a crash (it did not)
    turn(meter, 100, 0.03 if restored else 0.01, counted_input=300 if restored else 100)
    assert harness_costs(host) == [pytest.approx(0.01)] * 3
    assert meter.cost_seen == pytest.approx(0.03)
