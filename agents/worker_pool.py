"""The fleet's worker processes, seen from the supervisor: each agent's runner, when it runs elsewhere.

A plan with `workers` above 1 runs its own-loop agents in that many worker processes
(`agents.worker`), so a fleet larger than one process can carry uses every core. The supervisor
keeps everything else: each agent's task and lifecycle, the one event log, budgets, the pause
gate, approvals and provider slots. `RemoteRunner` is the `AgentRunner` it holds for an agent in
a worker: its turn is a message, and cancelling the turn (a kill, a reprompt, a stop) cancels it
in the worker and waits until the worker has sent every event of it, as an in-process cancel does.
A harness's agents stay in the fleet's process: their CLI already runs in a process of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tokenmaxx.agents.loop import report_usage
from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.providers.base import Usage
from tokenmaxx.agents.runners.base import AgentHost, RunnerSetup, TurnResult
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.agents.worker_wire import WireClosed, frame, read_frame
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.store import StoreError

logger = logging.getLogger(__name__)

CANCEL_WAIT_S = 10.0
"""How long a cancelled turn waits for its worker to end it; a worker that takes longer is stuck, and is killed."""
EXIT_WAIT_S = 5.0
ASKS = ("safe_point", "budget_refusal", "policy", "approval")


class WorkerError(Exception):
    """A worker process could not be started, or ended while it ran an agent's turn."""


@dataclass
class Billing:
    """What the fleet has heard of an agent's reply in a worker: enough to bill it if the worker dies mid-reply.

    The text streamed so far is the state's own `live_output_estimate`; this keeps only what the state does not.
    """

    provider: str
    model: str
    simulated: bool
    last_input: int = 0
    billed: bool = True  # no reply in flight, or its usage is recorded

    def hear(self, event: ev.Event) -> None:
        if isinstance(event, ev.UsageReported):
            self.billed, self.last_input = True, event.input_tokens
        elif isinstance(event, ev.TurnStarted) or (isinstance(event, ev.AgentStatusChanged) and event.status == "retrying"):
            self.billed = False

    def estimate(self, streamed_tokens: int) -> Usage:
        """The reply in flight as the loop estimates a cut one: the last input again, the text heard so far as output."""
        return Usage(input_tokens=self.last_input, output_tokens=streamed_tokens)


class RemoteRunner:
    """An agent's runner in a worker process."""

    def __init__(self, link: WorkerLink, rid: int, agent: str) -> None:
        self.link = link
        self.rid = rid
        self.agent = agent
        self._turn = 0
        forget = weakref.finalize(self, link.close_runner, rid)  # the supervisor dropped it: the worker forgets it too
        forget.atexit = False

    @property
    def turn(self) -> int:
        return self._turn

    @turn.setter
    def turn(self, value: int) -> None:
        self._turn = value
        self.link.send(("turn_no", self.rid, value))

    def start(self, prompt: str) -> None:
        self.link.send(("start", self.rid, prompt))

    def note(self, text: str) -> None:
        self.link.send(("note", self.rid, text))

    def restore(self, events: Any) -> None:
        mine = [e for e in events if isinstance(e, ev.Artifact) or getattr(e, "agent", None) == self.agent]
        self.link.send(("restore", self.rid, mine))

    async def take_turn(self) -> TurnResult:
        ended = self.link.expect_turn(self.rid)
        self.link.send(("turn", self.rid, self.link.pool.host.text_flush_s()))
        try:
            how, value = await asyncio.shield(ended)
        except asyncio.CancelledError:
            await self._cancel(ended)
            raise
        except WorkerError as lost:
            return TurnResult(False, "failed", f"{lost}; restart the agent to run it in a new worker")
        match how:
            case "done":
                return value  # type: ignore[no-any-return]
            case "store":
                raise StoreError(value)
            case _:
                raise WorkerError(f"the agent's turn ended {how} in worker {self.link.number}:\n{value}")

    async def _cancel(self, ended: asyncio.Future[tuple[str, Any]]) -> None:
        """Cancel the turn in the worker and wait until it has ended there, its events and questions settled.

        The wait outlasts further cancels (a kill after a reprompt, a stop after a kill), as
        `cancel_and_drain` does: the next turn must not start before this one has ended.
        """
        self.link.send(("cancel", self.rid))
        deadline = asyncio.get_running_loop().time() + CANCEL_WAIT_S
        while not ended.done():
            try:
                await asyncio.wait_for(asyncio.shield(ended), max(0.0, deadline - asyncio.get_running_loop().time()))
            except asyncio.CancelledError:
                continue
            except TimeoutError:
                self.link.kill(f"it did not end {self.agent}'s cancelled turn within {CANCEL_WAIT_S:.0f} s")
            except WorkerError:
                pass  # the worker is gone, and the turn with it
        await cancel_and_drain(*self.link.asks_of(self.agent))

    async def aclose(self) -> None:
        self.link.send(("release", self.rid))


class WorkerLink:
    """One worker process: its socket, the turns it runs and the questions it asked."""

    def __init__(self, pool: WorkerPool, number: int, process: asyncio.subprocess.Process, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.pool = pool
        self.number = number
        self.process = process
        self.reader = reader
        self.writer = writer
        self.runners: dict[int, str] = {}  # rid -> agent
        self.billing: dict[str, Billing] = {}
        self.lost: str | None = None
        self._turns: dict[int, asyncio.Future[tuple[str, Any]]] = {}
        self._asks: dict[int, tuple[str | None, asyncio.Task[None]]] = {}
        self._slots: dict[str, int] = {}
        self._reading = asyncio.create_task(self._read(), name=f"worker:{number}")

    def send(self, message: tuple[Any, ...]) -> None:
        if self.lost is None:
            self.writer.write(frame(message))

    def expect_turn(self, rid: int) -> asyncio.Future[tuple[str, Any]]:
        ended = asyncio.get_running_loop().create_future()
        assert rid not in self._turns, "a runner's next turn starts only once its last one has ended"
        if self.lost is not None:
            ended.set_exception(WorkerError(self.lost))
        else:
            self._turns[rid] = ended
        return ended

    def asks_of(self, agent: str) -> list[asyncio.Task[None]]:
        return [task for asker, task in self._asks.values() if asker == agent]

    def close_runner(self, rid: int) -> None:
        self.runners.pop(rid, None)
        self.send(("close", rid))

    def kill(self, why: str) -> None:
        """End a worker that no longer answers; its agents' turns fail with `why`."""
        logger.error("killing worker %d (pid %d): %s", self.number, self.process.pid, why)
        if self.process.returncode is None:
            self.process.kill()
        self._lose(f"worker {self.number} (pid {self.process.pid}) was killed: {why}")

    # reading ---------------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            while True:
                self._receive(await read_frame(self.reader))
        except WireClosed:
            pass
        except Exception as error:  # noqa: BLE001 - a message the fleet cannot take ends the worker, never the reading silently
            logger.exception("worker %d sent what the fleet cannot take", self.number)
            self.kill(f"the fleet could not take its message ({error!r}); this is a bug in tokenmaxx: please report it")
        self._lose(await self._how_it_ended())

    def _receive(self, message: tuple[Any, ...]) -> None:
        match message:
            case ("events", list(events)):
                self._emit(events)
            case ("ask", int(qid), str(method), agent, tuple(args)):
                self._asks[qid] = (agent, asyncio.create_task(self._answer(qid, method, agent, args), name=f"ask:{method}:{agent}"))
            case ("abandon", int(qid)):
                asked = self._asks.get(qid)
                if asked is not None:
                    asked[1].cancel()
            case ("slot_release", str(provider)):
                self._release_slot(provider)
            case ("turn_end", int(rid), str(how), value):
                ended = self._turns.pop(rid, None)
                if ended is not None and not ended.done():
                    ended.set_result((how, value))
            case _:
                raise WireClosed(f"an unknown message from worker {self.number}: {message[0]!r}")

    def _emit(self, events: list[ev.Event]) -> None:
        emit, billing = self.pool.host.emit, self.billing
        for event in events:
            bill = billing.get(getattr(event, "agent", ""))
            if bill is not None:
                bill.hear(event)
            try:
                emit(event)
            except StoreError:
                return  # nothing more can be recorded: the fleet stops and says why
            except Exception:  # noqa: BLE001 - one event the record refuses is logged; the worker's other agents go on
                logger.exception("worker %d: an event of %s could not be recorded", self.number, getattr(event, "agent", "?"))

    async def _answer(self, qid: int, method: str, agent: str | None, args: tuple[Any, ...]) -> None:
        try:
            value = await self._value(method, agent, args)
        except asyncio.CancelledError:
            self.send(("fail", qid, "error", "the question was given up"))
            raise
        except StoreError as error:
            self.send(("fail", qid, "store", str(error)))
        except Exception as error:  # noqa: BLE001 - the worker's agent hears why the fleet could not answer
            self.send(("fail", qid, "error", f"{type(error).__name__}: {error}"))
        else:
            self.send(("reply", qid, value))
        finally:
            self._asks.pop(qid, None)

    async def _value(self, method: str, agent: str | None, args: tuple[Any, ...]) -> Any:
        if method == "slot":
            provider = args[0]
            await self.pool.slots_for(provider).acquire()
            self._slots[provider] = self._slots.get(provider, 0) + 1
            return provider
        if method not in ASKS or agent is None:
            raise ValueError(f"no such question: {method}")
        return await getattr(self.pool.host, method)(agent, *args)

    def _release_slot(self, provider: str) -> None:
        if self._slots.get(provider, 0) > 0:
            self._slots[provider] -= 1
            self.pool.slots_for(provider).release()

    # ending ----------------------------------------------------------------------------------

    async def _how_it_ended(self) -> str:
        try:
            code = await asyncio.wait_for(self.process.wait(), EXIT_WAIT_S)
        except TimeoutError:
            self.process.kill()
            return f"worker {self.number} (pid {self.process.pid}) hung up and was killed"
        if code < 0:
            return f"worker {self.number} (pid {self.process.pid}) was ended by {signal.Signals(-code).name}"
        return f"worker {self.number} (pid {self.process.pid}) exited with code {code}"

    def _lose(self, why: str) -> None:
        if self.lost is not None:
            return
        self.lost = why
        if self.runners and not self.pool.closing:
            logger.error("%s, while running %d agents", why, len(self.runners))
        self._bill_cut_replies()
        for ended in self._turns.values():
            if not ended.done():
                ended.set_exception(WorkerError(why))
        self._turns.clear()
        for _, task in self._asks.values():
            task.cancel()
        for provider, held in self._slots.items():
            for _ in range(held):
                self.pool.slots_for(provider).release()
        self._slots.clear()
        self.writer.close()
        self.pool.forget(self)

    def _bill_cut_replies(self) -> None:
        """Record an estimated usage for each reply the dead worker was streaming, as the loop does for a cut one."""
        for rid in self._turns:
            agent = self.runners.get(rid, "")
            bill = self.billing.get(agent)
            if bill is None or bill.billed:
                continue
            bill.billed = True
            usage = bill.estimate(self.pool.live_output(agent))
            try:
                report_usage(self.pool.host, agent, bill.provider, bill.model, usage, estimated=True, simulated=bill.simulated)
            except StoreError:
                return

    async def aclose(self) -> None:
        """Tell the worker to end, and make sure it has."""
        self.send(("exit",))
        try:
            await asyncio.wait_for(self.process.wait(), EXIT_WAIT_S)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await cancel_and_drain(self._reading, *(task for _, task in self._asks.values()))


class WorkerPool:
    """The fleet's worker processes, started when an agent first needs one and replaced when one dies."""

    def __init__(
        self,
        host: AgentHost,
        plan: Callable[[], Plan],
        slots_for: Callable[[str], asyncio.Semaphore | None],
        live_output: Callable[[str], int],
        count: int,
    ) -> None:
        self.host = host
        self.plan = plan
        self._slots_for = slots_for
        self.live_output = live_output  # an agent's output tokens streamed since its last usage, from the fleet's state
        self.count = count
        self.links: list[WorkerLink] = []
        self.closing = False
        self._plan_sent: Plan | None = None
        self._numbers = itertools.count(1)
        self._rids = itertools.count(1)
        self._starting = asyncio.Lock()

    @property
    def pids(self) -> list[int]:
        return [link.process.pid for link in self.links]

    def slots_for(self, provider: str) -> asyncio.Semaphore:
        slots = self._slots_for(provider)
        assert slots is not None, "a worker asks for a slot only of a provider with max_concurrent"
        return slots

    async def runner(self, setup: RunnerSetup) -> RemoteRunner:
        """A runner for `setup`'s agent in the least busy worker, starting the workers that are missing."""
        await self._fill()
        link = min(self.links, key=lambda link: len(link.runners))
        rid = next(self._rids)
        agent = setup.spec.name
        link.runners[rid] = agent
        link.billing[agent] = Billing(setup.spec.provider, setup.model, setup.provider.kind == "sim")
        link.send(("open", rid, _portable(setup), self.host.text_flush_s()))
        return RemoteRunner(link, rid, setup.spec.name)

    def forget(self, link: WorkerLink) -> None:
        if link in self.links:
            self.links.remove(link)

    async def aclose(self) -> None:
        self.closing = True
        links, self.links = list(self.links), []
        await asyncio.gather(*(link.aclose() for link in links))

    async def _fill(self) -> None:
        async with self._starting:
            if self.closing:
                raise WorkerError("the fleet is stopping")
            self.publish_plan()
            missing = self.count - len(self.links)
            if missing > 0:
                await asyncio.gather(*(self._start() for _ in range(missing)))

    def publish_plan(self) -> None:
        """Give every worker the plan as it is now, once per change (a plan reload): its budgets and prices."""
        plan = self.plan()
        if plan is not self._plan_sent:
            self._plan_sent = plan
            for link in self.links:
                link.send(("plan", plan))

    async def _start(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tokenmaxx.agents.worker", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, start_new_session=True,
            )
        except OSError as error:
            ours.close()
            raise WorkerError(f"cannot start a worker process ({sys.executable}): {os.strerror(error.errno or 0)}") from None
        finally:
            theirs.close()
        try:
            reader, writer = await asyncio.open_unix_connection(sock=ours)
        except BaseException:
            process.kill()
            ours.close()
            raise
        link = WorkerLink(self, next(self._numbers), process, reader, writer)
        link.send(("hello", self._plan_sent))
        self.links.append(link)  # at once: a cancel of the other starts must not leave this worker unknown


def _portable(setup: RunnerSetup) -> RunnerSetup:
    """`setup` without its host, which is the fleet's: the worker is the host of the agents it runs."""
    return replace(setup, host=None)  # type: ignore[arg-type]
