"""The supervisor: runs a plan's agents, enforces budgets, and carries out commands.

It owns every agent task (named `agent:<name>`), the pause gates, the approvals in
waiting and the watchdog. The UI and the watchdog act only through `handle(command)`,
which records a `supervisor_action` and returns at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.artifact_watch import ArtifactWatch, already_reported
from tokenmaxx.agents.commanding import CommandError, CommandHandling
from tokenmaxx.agents.budget import Budgets, Priced
from tokenmaxx.agents.confinement import agent_workspace, effective_policy, sandbox_notices, unconfined_reason
from tokenmaxx.agents.conversation import FRESH_START, initial_text
from tokenmaxx.agents.history import HistorySnapshots
from tokenmaxx.agents.loop import text_flush_interval
from tokenmaxx.agents.plan import Plan
from tokenmaxx.agents.plan_models import AgentSpec
from tokenmaxx.agents.providers import make_provider
from tokenmaxx.agents.providers.base import Provider, ProviderFailure, ToolCallPart, Usage
from tokenmaxx.agents.reload import REMOVED, PlanWatch, Slots, take_pending_spec
from tokenmaxx.agents.reprompt_queue import RepromptQueue
from tokenmaxx.agents.runners.base import AgentRunner, RunnerSetup, TurnResult, harness_pricing
from tokenmaxx.agents.runners.factory import make_runner
from tokenmaxx.agents.runs import AgentRun
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.agents.watchdog import Watchdog
from tokenmaxx.agents.worker_pool import WorkerError, WorkerPool
from tokenmaxx.agents.worktree_runs import AgentWorktrees
from tokenmaxx.agents.worktrees import GitError
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import EventLog
from tokenmaxx.sessions.store import StoreError, new_session_id
from tokenmaxx.sessions.store_api import SessionStore
from tokenmaxx.sessions.state import FleetState

__all__ = ["CommandError", "Supervisor", "VERSION"]

VERSION = "0.1.0"
STALL_NUDGE = "You have gone quiet. Carry on with your task from where you stopped, or finish with a summary."
WATCH_EVERY_S = 0.5
BUG_HINT = "this is a bug in tokenmaxx: please report it with the session id"
logger = logging.getLogger(__name__)


class Supervisor(CommandHandling):
    """Runs one session of a plan."""

    def __init__(
        self,
        plan: Plan,
        store: SessionStore,
        log: EventLog,
        *,
        headless: bool = False,
        auto_yes: bool = False,
        auto_remedy: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        out_root: Path | None = None,
        providers: dict[str, Provider] | None = None,
        watch_plan: bool = False,
        watch_out: bool = True,
    ) -> None:
        self.plan = plan
        self.store = store
        self.log = log
        self.session_id = log.session_id
        self.headless = headless
        self.auto_yes = auto_yes
        self.auto_remedy = headless if auto_remedy is None else auto_remedy
        self.out_root = out_root or plan.out / self.session_id
        self.budgets = Budgets(plan)
        self.runs: dict[str, AgentRun] = {}
        self.history = HistorySnapshots(store)
        self._providers: dict[str, Provider] = dict(providers or {})
        self._provider_slots: dict[str, asyncio.Semaphore] = {}
        self.slots = Slots(plan.max_parallel)
        self.pending_specs: dict[str, AgentSpec] = {}
        self.removed: set[str] = set()
        self._watcher: asyncio.Task[None] | None = None
        self._all_done = asyncio.Event()
        self.watchdog = Watchdog(
            self._raise_flag,
            stall_after_s=plan.stall_after,
            loop_repeats=plan.loop_repeats,
            burn_tokens=plan.burn_tokens,
            clock=clock,
        )
        log.subscribe(self.watchdog.observe)
        self.reprompts = RepromptQueue()
        log.subscribe(self.reprompts_heard)
        self.plan_watch = PlanWatch(self) if watch_plan else None
        self.worktrees = AgentWorktrees(plan, self.session_id, self.out_root, log.emit, lambda: self.state)
        self.artifact_watch = ArtifactWatch(self.out_root, self.runs.__contains__, self.emit) if watch_out else None
        processes = plan.worker_processes()
        self.workers = (
            WorkerPool(self, lambda: self.plan, self._provider_slots.get, lambda agent: self.state.agents[agent].live_output_estimate, processes)
            if processes > 1
            else None
        )

    @classmethod
    def create(cls, plan: Plan, store, *, session_id: str | None = None, **options) -> Supervisor:  # type: ignore[no-untyped-def]
        """A supervisor for a new session of `plan`, writing to `store`."""
        log = EventLog(store, session_id or new_session_id())
        return cls(plan, store, log, **options)

    @property
    def state(self) -> FleetState:
        return self.log.state

    @property
    def providers_in_use(self) -> frozenset[str]:
        return frozenset(self._providers)

    def emit(self, event: ev.Event) -> ev.Event:
        """Record an event; an artifact already recorded with the same content is dropped."""
        if isinstance(event, ev.Artifact) and already_reported(self.state, event):
            return event
        return self.log.emit(event)

    async def start(self) -> None:
        """Record the session and the plan, and launch every agent; returns at once."""
        self.out_root.mkdir(parents=True, exist_ok=True)
        self.emit(
            ev.SessionStarted(
                name=self.plan.name,
                plan=str(self.plan.path),
                cwd=os.getcwd(),
                version=VERSION,
                prices=_price_table(),
                out=str(self.out_root.resolve()),
            )
        )
        self.emit(
            ev.PlanLoaded(
                path=str(self.plan.path),
                agents=[a.name for a in self.plan.agents],
                budget_usd=self.plan.budget.usd,
                budget_tokens=self.plan.budget.tokens,
                notices=sandbox_notices(self.plan),
            )
        )
        for spec in self.plan.agents:
            self.add_agent(spec)
        self.start_watchdog()

    def start_watchdog(self) -> None:
        """Start the watchers: the watchdog, the out folder's and, when asked for, the plan file's."""
        self._watcher = asyncio.create_task(self._watch(), name="watchdog")
        for watch in (self.artifact_watch, self.plan_watch):
            if watch is not None:
                watch.start()

    def add_agent(self, spec: AgentSpec) -> None:
        """Queue an agent of the plan and start its task."""
        self.announce(spec)
        run = AgentRun(spec)
        self.runs[spec.name] = run
        self._all_done.clear()
        self.launch(run, fresh=True)

    def announce(self, spec: AgentSpec) -> None:
        """Record the agent as queued with `spec`: a new agent, or one whose plan entry changed."""
        self.emit(
            ev.AgentQueued(
                agent=spec.name,
                role=spec.role,
                provider=spec.provider,
                model=self.plan.model_for(spec),
                after=list(spec.after),
                task=spec.task,
                tools=self.plan.tools_for(spec),
                loop_times=spec.loop.times or 0,
                loop_until_usd=spec.loop.until_usd,
            )
        )

    async def wait(self) -> FleetState:
        """Wait until every agent has finished."""
        if self.runs:
            await self._all_done.wait()
        return self.state

    async def finish(self, status: str | None = None) -> None:
        """End the session: stop what still runs, record how it ended, release providers."""
        stopped = await self.halt()
        for note in await self.worktrees.close():
            logger.info("%s", note)
        self.emit(ev.SessionEnded(status=status or self._session_status(stopped)))  # type: ignore[arg-type]

    async def halt(self) -> bool:
        """Stop every agent and watcher and release the providers, recording nothing; whether an agent was still running.

        A storage fault ends the fleet this way, since nothing more can be recorded.
        """
        if self.plan_watch is not None:
            await self.plan_watch.stop()
        unfinished = [run for run in self.runs.values() if run.task is not None and not run.task.done()]
        for run in unfinished:
            run.stop_reason = "shutdown"
        await cancel_and_drain(*(run.task for run in unfinished))
        await cancel_and_drain(self._watcher)
        if self.workers is not None:
            await self.workers.aclose()
        if self.artifact_watch is not None:
            await self.artifact_watch.stop()
        for provider in self._providers.values():
            await provider.aclose()
        await self.history.close()
        return bool(unfinished)

    def _session_status(self, stopped: bool) -> str:
        if stopped:
            return "stopped"
        outcomes = [a.outcome for a in self.state.agents.values() if not a.withdrawn]
        return "done" if all(o == "done" for o in outcomes) else "failed"

    # agent lifecycle ----------------------------------------------------------------------

    def launch(self, run: AgentRun, *, fresh: bool) -> None:
        if fresh:
            take_pending_spec(self, run)
        run.stop_reason = None
        run.task = asyncio.create_task(self._lifecycle(run, fresh=fresh), name=f"agent:{run.name}")
        run.task.add_done_callback(lambda task: self._cancelled_before_start(run, task))
        self._all_done.clear()

    def _cancelled_before_start(self, run: AgentRun, task: asyncio.Task[None]) -> None:
        """A task cancelled before its first step never enters `_lifecycle`: record its stop here instead."""
        if task.cancelled() and run.task is task:
            self._stopped(run)
            self._check_all_done()

    async def _lifecycle(self, run: AgentRun, *, fresh: bool) -> None:
        try:
            skip = await self._wait_for_dependencies(run)
            if skip:
                self._finish(run, "skipped", skip)
                return
            async with self.slots:
                await self._iterations(run, fresh=fresh)
        except asyncio.CancelledError:
            self._stopped(run)
        except Exception as error:  # noqa: BLE001 - an agent's task owns its failure: it ends recorded, never silently
            self._crashed(run, error)
        finally:
            await cancel_and_drain(run.turn_task)
            if run.runner is not None:
                await run.runner.aclose()
            self._check_all_done()

    def _crashed(self, run: AgentRun, error: Exception) -> None:
        """Finish an agent that an unexpected error ended as failed, saying it is a bug to report."""
        if isinstance(error, StoreError):
            return  # nothing more can be recorded: whoever runs the fleet stops it and says why
        logger.error("agent %s ended by an unexpected error", run.name, exc_info=error)
        self._finish(run, "failed", f"{error!r} ({BUG_HINT} {self.session_id})")

    def _stopped(self, run: AgentRun) -> None:
        reason, run.stop_reason = run.stop_reason, None
        if reason == "kill":
            self._finish(run, "killed", "killed by the supervisor")
        elif reason == "restart":
            self.launch(run, fresh=True)
        elif reason == "removed":
            self._finish(run, "skipped", REMOVED)

    async def _wait_for_dependencies(self, run: AgentRun) -> str | None:
        after = run.spec.after
        if not after:
            return None
        self.emit(ev.AgentStatusChanged(agent=run.name, status="waiting", reason="after " + ", ".join(after)))
        while True:
            agents = self.state.agents
            failed = [n for n in after if n in agents and agents[n].finished and agents[n].outcome != "done"]
            if failed:
                return f"dependency {failed[0]} ended {agents[failed[0]].outcome}"
            if all(n in agents and agents[n].outcome == "done" for n in after):
                return None
            await self._next_finish()

    async def _next_finish(self) -> None:
        finished = asyncio.Event()
        unsubscribe = self.log.subscribe(lambda e, s: finished.set() if isinstance(e, ev.AgentFinished) else None)
        try:
            await finished.wait()
        finally:
            unsubscribe()

    async def _iterations(self, run: AgentRun, *, fresh: bool) -> None:
        try:
            await self.worktrees.prepare(run.spec)
        except GitError as error:
            self._finish(run, "failed", str(error))
            return
        while True:
            await self.history.take(run.spec)
            runner = await self._runner(run, fresh=fresh)
            if runner is None:
                return
            result = await self._drive(run, runner)
            if result.outcome != "done" or not self._loops_again(run):
                await self._deliver(run)
                if self.artifact_watch is not None:
                    await self.artifact_watch.sweep(run.name)
                self._finish(run, result.outcome or "done", result.summary)
                return
            run.iteration += 1
            take_pending_spec(self, run)
            fresh = True

    async def _deliver(self, run: AgentRun) -> None:
        """Commit a coding agent's worktree and report its diff; a git failure is logged, the agent's outcome stands."""
        try:
            await self.worktrees.deliver(run.name)
        except GitError as error:
            logger.warning("cannot deliver the diff of %s: %s", run.name, error)

    def _loops_again(self, run: AgentRun) -> bool:
        """Another iteration, unless the agent left the plan, ran its times, or the next could pass `until_usd`."""
        spec = run.spec.loop
        if run.name in self.removed or (spec.times is not None and run.iteration >= spec.times):
            return False
        if spec.until_usd is None:
            return True
        agent = self.state.agents[run.name]
        dearest = max(agent.costs_by_iteration)
        if agent.unknown_price_tokens or dearest <= 0:
            return spec.times is not None  # spend that cannot be measured never ends a loop
        return agent.cost_usd + dearest <= spec.until_usd

    async def _runner(self, run: AgentRun, *, fresh: bool) -> AgentRunner | None:
        """The runner for the agent's next turns: a new one for a fresh start, else the one it had."""
        runner = run.runner
        if fresh or runner is None:
            if runner is not None:
                await runner.aclose()
            try:
                runner = await self._make_runner(run)
            except ProviderFailure as failure:
                self.emit(ev.ProviderError(agent=run.name, error_kind=failure.kind, message=failure.message))
                self._finish(run, "failed", failure.message)
                return None
            except WorkerError as error:
                self._finish(run, "failed", str(error))
                return None
        if fresh:
            self.watchdog.forget(run.name)
            inputs = self._inputs(run.spec)
            handed = [path for path, _ in inputs]
            self.emit(ev.AgentStatusChanged(agent=run.name, status="starting", reason=FRESH_START, iteration=run.iteration, inputs=handed))
            runner.start(initial_text(run.spec.task, inputs))
        else:
            self.emit(ev.AgentStatusChanged(agent=run.name, status="starting", reason="continuing", iteration=run.iteration))
        if run.runner is not runner:
            run.adopt(runner)
        runner.turn = self.state.agents[run.name].turn
        return runner

    async def _make_runner(self, run: AgentRun) -> AgentRunner:
        """A runner in this process, or in a worker process for an own-loop agent of a plan with workers."""
        setup = self._runner_setup(run)
        if self.workers is None or run.spec.harness is not None:
            return make_runner(setup, self._provider_for)
        self._provider(run.spec.provider)  # its key checked and its prices known here, as for an agent in this process
        return await self.workers.runner(setup)

    def _runner_setup(self, run: AgentRun) -> RunnerSetup:
        spec = run.spec
        return RunnerSetup(
            spec=spec,
            model=self.plan.model_for(spec),
            system=self.plan.system_prompt(spec),
            tools=tuple(self.plan.tools_for(spec)),
            provider=self.plan.provider_config(spec.provider),
            workspace=agent_workspace(
                self.plan, spec, self.out_root, self.history.copy_for(run.name), self.worktrees.get(spec.name)
            ),
            session_out=self.out_root,
            host=self,
            stall_after_s=self.plan.stall_after,
        )

    def _inputs(self, spec: AgentSpec) -> list[tuple[str, int]]:
        agents = self.state.agents
        return [(a.path, a.bytes) for dep in spec.after if dep in agents for a in agents[dep].artifacts]

    async def _drive(self, run: AgentRun, runner: AgentRunner) -> TurnResult:
        """Take turns; a turn cancelled by a reprompt is followed by the next one."""
        while True:
            run.turn_task = asyncio.create_task(runner.take_turn(), name=f"turn:{run.name}")
            try:
                result = await run.turn_task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
                continue
            finally:
                run.turn_task = None
            if not result.more:
                return result

    def _finish(self, run: AgentRun, outcome: ev.Outcome, summary: str) -> None:
        if outcome == "over_budget":
            self.emit(ev.AgentFlagged(agent=run.name, flag="over_budget", detail=summary))
        self.emit(ev.AgentFinished(agent=run.name, outcome=outcome, summary=summary))

    def _check_all_done(self) -> None:
        if all(run.task is None or run.task.done() or run.task is asyncio.current_task() for run in self.runs.values()):
            if all(a.finished for a in self.state.agents.values()):
                self._all_done.set()

    def _provider_for(self, name: str) -> tuple[Provider, asyncio.Semaphore | None]:
        """The plan's provider `name` and the slots its calls share; raises ProviderFailure when it cannot be made."""
        return self._provider(name), self._provider_slots.get(name)

    def _provider(self, name: str) -> Provider:
        if name not in self._providers:
            config = self.plan.provider_config(name)
            self._providers[name] = make_provider(name, config)
            if config.max_concurrent:
                self._provider_slots[name] = asyncio.Semaphore(config.max_concurrent)
        return self._providers[name]

    # the AgentHost protocol ---------------------------------------------------------------

    async def safe_point(self, agent: str) -> None:
        await self.log.room()
        run = self.runs[agent]
        if run.paused:
            self.emit(ev.AgentStatusChanged(agent=agent, status="paused", reason="paused by the supervisor"))
            await run.gate.wait()
            self.emit(ev.AgentStatusChanged(agent=agent, status="starting", reason="resumed"))

    def text_flush_s(self) -> float:
        running = sum(1 for run in self.runs.values() if run.task is not None and not run.task.done())
        return text_flush_interval(running)

    async def budget_refusal(self, agent: str, input_tokens: int, max_output_tokens: int) -> str | None:
        run = self.runs[agent]
        return self.budgets.refusal(self.state, run.spec, self._pricing(run.spec), input_tokens, max_output_tokens)

    def price(self, agent: str, usage: Usage) -> tuple[float | None, float | None]:
        run = self.runs[agent]
        pricing = self._pricing(run.spec)
        assert pricing is not None, "an agent prices a reply only after its provider was made"
        return self.budgets.price(run.spec, pricing, usage)

    def _pricing(self, spec: AgentSpec) -> Priced | None:
        """How the agent's replies are priced: by its provider, or for a harness by its provider's kind."""
        if spec.harness is None:
            return self._providers.get(spec.provider)
        return harness_pricing(self.plan.provider_config(spec.provider))

    async def policy(self, agent: str, tool: str) -> str:
        run = self.runs[agent]
        return "auto" if tool in run.always_allowed else effective_policy(self.plan, run.spec, tool)

    async def approval(self, agent: str, call: ToolCallPart) -> tuple[bool, str]:
        if self.headless:
            by = "--yes" if self.auto_yes else "headless run (pass --yes to allow)"
            self.emit(ev.ApprovalDecided(agent=agent, call_id=call.call_id, approved=self.auto_yes, by=by))
            return self.auto_yes, by
        run = self.runs[agent]
        reason = unconfined_reason(self.plan, run.spec) if call.name == "run_command" else None
        self.emit(ev.ApprovalRequested(agent=agent, call_id=call.call_id, tool=call.name, args=call.args, reason=reason or ""))
        self.emit(ev.AgentStatusChanged(agent=agent, status="awaiting_approval", reason=call.name))
        decision = asyncio.get_running_loop().create_future()
        run.approvals[call.call_id] = decision
        run.approval_tools[call.call_id] = call.name
        try:
            approved, by = await decision
        except asyncio.CancelledError:
            self.emit(ev.ApprovalDecided(agent=agent, call_id=call.call_id, approved=False, by="interrupted"))
            raise
        finally:
            run.approvals.pop(call.call_id, None)
        self.emit(ev.ApprovalDecided(agent=agent, call_id=call.call_id, approved=approved, by=by))
        return approved, by

    # the watchdog --------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_EVERY_S)
            self.watchdog.check(self.state)

    def _raise_flag(self, agent: str, flag: ev.Flag, detail: str) -> None:
        self.emit(ev.AgentFlagged(agent=agent, flag=flag, detail=detail))
        if self.auto_remedy and agent in self.runs:
            asyncio.get_running_loop().call_soon(self._remedy, agent, flag)

    def _remedy(self, agent: str, flag: ev.Flag) -> None:
        """Headless, nobody is watching: nudge a stalled agent, restart a looping one."""
        if self.state.agents[agent].finished:
            return
        if flag == "stalled":
            self.handle(cmd.Reprompt(agent=agent, text=STALL_NUDGE, by="watchdog"))
        elif flag == "looping":
            self.handle(cmd.Restart(agent=agent, by="watchdog"))


def _price_table() -> str | None:
    from tokenmaxx.agents.pricing import price_table_version

    try:
        return price_table_version()
    except Exception:  # noqa: BLE001 - the record goes on without naming its price table
        return None
