"""A worker process's side of the pipe, driven message by message: cancels and slots that cross its answers on the wire."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tokenmaxx.agents.confinement import agent_workspace
from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.runners.base import RunnerSetup
from tokenmaxx.agents.worker import Worker
from tokenmaxx.agents.worker_wire import frame, read_frame
from tokenmaxx.sessions import events as ev
from tests.agents.scripted import make_plan

AGENT = '[[agents]]\nname = "a"\nrole = "chart-builder"\nprovider = "fast"\ntask = "Chart it."\n'


class Fleet:
    """The fleet's end of a worker's socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.events: list[ev.Event] = []

    def send(self, *messages: tuple[Any, ...]) -> None:
        """Write `messages` at once, so the worker reads them in one pass."""
        self.writer.write(b"".join(frame(message) for message in messages))

    async def next(self) -> tuple[Any, ...]:
        """The worker's next message other than its events (kept in `events`)."""
        async with asyncio.timeout(5):
            while (message := await read_frame(self.reader))[0] == "events":
                self.events.extend(message[1])
        return message


def setup_of(plan: Plan, tmp_path: Path) -> RunnerSetup:
    spec = plan.agents[0]
    out = tmp_path / "out" / "s"
    return RunnerSetup(
        spec=spec,
        model=plan.model_for(spec),
        system=plan.system_prompt(spec),
        tools=tuple(plan.tools_for(spec)),
        provider=plan.provider_config(spec.provider),
        workspace=agent_workspace(plan, spec, out, None, None),
        session_out=out,
        host=None,  # type: ignore[arg-type]
    )


@pytest.fixture
async def worker_and_fleet(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Fleet, RunnerSetup]]:
    head = '[providers.fast]\nkind = "sim"\nspeed = 50\n' + getattr(request, "param", "")
    plan = make_plan(tmp_path, AGENT, head)
    ours, theirs = socket.socketpair()
    worker_end = await asyncio.open_unix_connection(sock=theirs)
    fleet_end = await asyncio.open_unix_connection(sock=ours)
    serving = asyncio.create_task(Worker(*worker_end, plan).serve(), name="worker")
    fleet = Fleet(*fleet_end)
    yield fleet, setup_of(plan, tmp_path)
    fleet.send(("exit",))
    await asyncio.wait_for(serving, 5)
    fleet.writer.close()


async def test_a_cancel_read_with_its_turn_still_ends_the_turn(worker_and_fleet: tuple[Fleet, RunnerSetup]) -> None:
    fleet, setup = worker_and_fleet
    fleet.send(("open", 1, setup, 0.05), ("start", 1, "Chart it."), ("turn", 1, 0.05), ("cancel", 1))
    assert await fleet.next() == ("turn_end", 1, "cancelled", None)


@pytest.mark.parametrize("worker_and_fleet", ["max_concurrent = 1\n"], indirect=True)
async def test_a_slot_granted_as_its_turn_is_cancelled_is_handed_back(worker_and_fleet: tuple[Fleet, RunnerSetup]) -> None:
    fleet, setup = worker_and_fleet
    fleet.send(("open", 1, setup, 0.05), ("start", 1, "Chart it."), ("turn", 1, 0.05))
    _, safe_point, method, agent, _ = await fleet.next()
    assert (method, agent) == ("safe_point", "a")
    fleet.send(("reply", safe_point, None))
    _, slot, method, _, args = await fleet.next()
    assert (method, args) == ("slot", ("fast",))
    fleet.send(("reply", slot, "fast"), ("cancel", 1))
    assert [await fleet.next(), await fleet.next()] == [("slot_release", "fast"), ("turn_end", 1, "cancelled", None)]


@pytest.mark.parametrize("worker_and_fleet", ["max_concurrent = 1\n"], indirect=True)
async def test_a_slot_granted_after_its_question_was_given_up_is_handed_back(worker_and_fleet: tuple[Fleet, RunnerSetup]) -> None:
    fleet, setup = worker_and_fleet
    fleet.send(("open", 1, setup, 0.05), ("start", 1, "Chart it."), ("turn", 1, 0.05))
    _, safe_point, *_ = await fleet.next()
    fleet.send(("reply", safe_point, None))
    _, slot, *_ = await fleet.next()
    fleet.send(("cancel", 1))
    assert [await fleet.next(), await fleet.next()] == [("abandon", slot), ("turn_end", 1, "cancelled", None)]
    fleet.send(("reply", slot, "fast"))
    assert await fleet.next() == ("slot_release", "fast")


async def test_a_runner_released_keeps_its_conversation_and_a_closed_one_is_forgotten(worker_and_fleet: tuple[Fleet, RunnerSetup]) -> None:
    fleet, setup = worker_and_fleet
    fleet.send(("open", 1, setup, 0.05), ("start", 1, "Chart it."), ("release", 1), ("note", 1, "Go on."), ("turn", 1, 0.05))
    _, safe_point, method, *_ = await fleet.next()
    assert method == "safe_point"
    fleet.send(("cancel", 1))
    assert await fleet.next() == ("abandon", safe_point)
    assert await fleet.next() == ("turn_end", 1, "cancelled", None)
    fleet.send(("close", 1), ("turn", 1, 0.05))
    how = await fleet.next()
    assert how[:3] == ("turn_end", 1, "error") and "no runner 1" in how[3]
