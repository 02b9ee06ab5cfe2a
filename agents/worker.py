"""A worker process: runs some of a fleet's own-loop agents, streaming and running their tools.

Started by the fleet (`agents.worker_pool`) as `python -m tokenmaxx.agents.worker FD`, with one
end of a socket pair as FD. The worker is each agent's `AgentHost`: `emit` batches events to the
fleet once per pass of the loop, and the pause gate, budget checks, tool policies, approvals and
provider slots are questions the fleet answers, so every decision that spans agents stays with
the one supervisor and its one event log. Prices are worked out here, from the same plan.
The worker dies with the fleet (PR_SET_PDEATHSIG) and ends when the socket closes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import sys
import traceback
from collections.abc import Callable, Coroutine
from dataclasses import replace
from functools import partial
from typing import Any

from tokenmaxx.agents.budget import Budgets
from tokenmaxx.agents.heap import HEAP_SETTLED_S, freeze_heap
from tokenmaxx.agents.keeper import die_with_parent
from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.plan_models import AgentSpec
from tokenmaxx.agents.providers import make_provider
from tokenmaxx.agents.providers.base import Provider, ToolCallPart, Usage
from tokenmaxx.agents.runners.base import AgentRunner, RunnerSetup
from tokenmaxx.agents.runners.factory import make_runner
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.agents.worker_wire import WireClosed, frame, read_frame
from tokenmaxx.sessions import events as ev

logger = logging.getLogger(__name__)


class FleetRefused(Exception):
    """The fleet could not answer a question: `kind` "store" when its store failed, else "error"."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


class RemoteSlots:
    """A provider's `max_concurrent` slots, held by the fleet for every worker at once."""

    def __init__(self, worker: Worker, provider: str) -> None:
        self.worker = worker
        self.provider = provider

    async def __aenter__(self) -> None:
        await self.worker.ask(None, "slot", self.provider)

    async def __aexit__(self, *exc: object) -> None:
        self.worker.send(("slot_release", self.provider))


class Worker:
    """The agents of one worker process, and their host."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, plan: Plan) -> None:
        self.reader = reader
        self.writer = writer
        self.plan = plan
        self.budgets = Budgets(plan)
        self.runners: dict[int, AgentRunner] = {}
        self.broken: dict[int, str] = {}  # runners that could not be made or changed: why, for their next turn
        self.specs: dict[str, AgentSpec] = {}
        self.turns: dict[int, asyncio.Task[tuple[str, Any]]] = {}
        self.providers: dict[str, Provider] = {}
        self.flush_s = 0.05
        self._outbox: list[ev.Event] = []
        self._asks: dict[int, tuple[asyncio.Future[Any], str]] = {}
        self._abandoned: dict[int, str] = {}
        self._chores: set[asyncio.Task[None]] = set()
        self._qids = itertools.count(1)

    # the wire ------------------------------------------------------------------------------

    def send(self, message: tuple[Any, ...]) -> None:
        """Write `message` after every event emitted before it."""
        self._flush()
        self.writer.write(frame(message))

    def _flush(self) -> None:
        if self._outbox:
            events, self._outbox = self._outbox, []
            self.writer.write(frame(("events", events)))

    async def serve(self) -> None:
        """Carry out the fleet's messages until it says exit or hangs up."""
        try:
            while True:
                message = await read_frame(self.reader)
                if message[0] == "exit":
                    return
                self._receive(message)
        except WireClosed:
            return
        finally:
            await self._close()

    def _receive(self, message: tuple[Any, ...]) -> None:
        match message:
            case ("open", int(rid), RunnerSetup() as setup, float(flush_s)):
                self.flush_s = flush_s
                self._open(rid, setup)
            case ("start", int(rid), str(prompt)):
                self._apply(rid, lambda runner: runner.start(prompt))
            case ("note", int(rid), str(text)):
                self._apply(rid, lambda runner: runner.note(text))
            case ("restore", int(rid), list(events)):
                self._apply(rid, lambda runner: runner.restore(events))
            case ("turn_no", int(rid), int(turn)):
                self._apply(rid, lambda runner: setattr(runner, "turn", turn))
            case ("turn", int(rid), float(flush_s)):
                self.flush_s = flush_s
                self._start_turn(rid)
            case ("cancel", int(rid)):
                if rid in self.turns:
                    self.turns[rid].cancel()
            case ("release", int(rid)):
                self._chore(self._let_go(self.turns.get(rid), self.runners.get(rid)), f"release:{rid}")
            case ("close", int(rid)):
                self.broken.pop(rid, None)
                self._chore(self._let_go(self.turns.get(rid), self.runners.pop(rid, None)), f"close:{rid}")
            case ("reply", int(qid), value):
                self._answered(qid, value, None)
            case ("fail", int(qid), str(kind), str(text)):
                self._answered(qid, None, FleetRefused(kind, text))
            case ("plan", Plan() as plan):
                self.plan, self.budgets = plan, Budgets(plan)
            case _:
                raise WireClosed(f"an unknown message from the fleet: {message[0]!r}")

    # runners -------------------------------------------------------------------------------

    def _open(self, rid: int, setup: RunnerSetup) -> None:
        self.specs[setup.spec.name] = setup.spec
        try:
            self.runners[rid] = make_runner(replace(setup, host=self), self._provider_for)
        except Exception:  # noqa: BLE001 - told to the fleet at the agent's turn, which ends failed
            self.broken[rid] = traceback.format_exc()

    def _apply(self, rid: int, change: Callable[[AgentRunner], object]) -> None:
        """Apply `change` to runner `rid`; what fails is told to the fleet at its next turn."""
        runner = self.runners.get(rid)
        if runner is None or rid in self.broken:
            return
        try:
            change(runner)
        except Exception:  # noqa: BLE001 - as above
            self.broken[rid] = traceback.format_exc()

    def _provider_for(self, name: str) -> tuple[Provider, Any]:
        if name not in self.providers:
            self.providers[name] = make_provider(name, self.plan.provider_config(name))
        slots = RemoteSlots(self, name) if self.plan.provider_config(name).max_concurrent else None
        return self.providers[name], slots

    def _start_turn(self, rid: int) -> None:
        """Start runner `rid`'s turn; however it ends, cancelled before it began included, the fleet hears of it once."""
        task = asyncio.create_task(self._turn(rid), name=f"turn:{rid}")
        self.turns[rid] = task
        task.add_done_callback(partial(self._turn_ended, rid))

    async def _turn(self, rid: int) -> tuple[str, Any]:
        if rid in self.broken or rid not in self.runners:
            return "error", self.broken.get(rid, f"no runner {rid} in this worker")
        try:
            return "done", await self.runners[rid].take_turn()
        except FleetRefused as refused:
            return refused.kind, str(refused)
        except Exception:  # noqa: BLE001 - the fleet records the agent's failure with the traceback
            return "error", traceback.format_exc()

    def _turn_ended(self, rid: int, task: asyncio.Task[tuple[str, Any]]) -> None:
        if self.turns.get(rid) is task:
            del self.turns[rid]
        how, value = ("cancelled", None) if task.cancelled() else task.result()
        self.send(("turn_end", rid, how, value))

    def _chore(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _let_go(self, turn: asyncio.Task[Any] | None, runner: AgentRunner | None) -> None:
        """End `turn` and release what `runner` holds: the fleet's `aclose` (which keeps the conversation) or its close."""
        await cancel_and_drain(turn)
        if runner is not None:
            await runner.aclose()

    async def _close(self) -> None:
        await cancel_and_drain(*self.turns.values(), *self._chores)
        for runner in self.runners.values():
            await runner.aclose()
        for provider in self.providers.values():
            await provider.aclose()
        self._flush()
        self.writer.close()

    # questions for the fleet ---------------------------------------------------------------

    async def ask(self, agent: str | None, method: str, *args: Any) -> Any:
        """The fleet's answer to `method(agent, *args)`; a cancel tells the fleet to stop answering."""
        qid = next(self._qids)
        answer = asyncio.get_running_loop().create_future()
        self._asks[qid] = (answer, method)
        self.send(("ask", qid, method, agent, args))
        try:
            return await answer
        except asyncio.CancelledError:
            if self._asks.pop(qid, None) is not None:
                self._abandoned[qid] = method
                self.send(("abandon", qid))
            elif method == "slot" and _granted(answer):
                self.send(("slot_release", answer.result()))  # granted, but its turn was cancelled before it went on
            raise

    def _answered(self, qid: int, value: Any, refused: FleetRefused | None) -> None:
        """The fleet's answer to question `qid`; a slot granted to a question given up is handed back."""
        asked = self._asks.pop(qid, None)
        method = asked[1] if asked is not None else self._abandoned.pop(qid, None)
        if asked is None or asked[0].done():
            if method == "slot" and refused is None:
                self.send(("slot_release", value))
            return
        if refused is not None:
            asked[0].set_exception(refused)
        else:
            asked[0].set_result(value)

    # AgentHost -----------------------------------------------------------------------------

    def emit(self, event: ev.Event) -> ev.Event:
        self._outbox.append(event)
        if len(self._outbox) == 1:
            asyncio.get_running_loop().call_soon(self._flush)
        return event

    async def safe_point(self, agent: str) -> None:
        await self.ask(agent, "safe_point")

    async def budget_refusal(self, agent: str, input_tokens: int, max_output_tokens: int) -> str | None:
        if self.budgets.unbounded(self.specs[agent]):
            return None  # no budget to ask the fleet about
        return await self.ask(agent, "budget_refusal", input_tokens, max_output_tokens)  # type: ignore[no-any-return]

    def price(self, agent: str, usage: Usage) -> tuple[float | None, float | None]:
        spec = self.specs[agent]
        return self.budgets.price(spec, self.providers[spec.provider], usage)

    async def policy(self, agent: str, tool: str) -> str:
        return await self.ask(agent, "policy", tool)  # type: ignore[no-any-return]

    async def approval(self, agent: str, call: ToolCallPart) -> tuple[bool, str]:
        return await self.ask(agent, "approval", call)  # type: ignore[no-any-return]

    def text_flush_s(self) -> float:
        return self.flush_s


def _granted(answer: asyncio.Future[Any]) -> bool:
    return answer.done() and not answer.cancelled() and answer.exception() is None


async def run(fd: int) -> None:
    """Say hello, take the plan, and serve the fleet on socket `fd`."""
    os.set_inheritable(fd, False)  # an agent's command must never hold the fleet's socket
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd))
    hello = await read_frame(reader)
    if hello[0] != "hello" or not isinstance(hello[1], Plan):
        raise WireClosed("the fleet did not say hello")
    asyncio.get_running_loop().call_later(HEAP_SETTLED_S, freeze_heap)
    await Worker(reader, writer, hello[1]).serve()


def main(argv: list[str]) -> int:
    die_with_parent()
    logging.basicConfig(level=logging.WARNING, format="tokenmaxx worker %(process)d: %(message)s")
    try:
        asyncio.run(run(int(argv[1])))
    except WireClosed as closed:
        print(f"tokenmaxx worker: {closed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
