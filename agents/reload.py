"""Hot reload: while a fleet runs, its plan file is watched and each good save is applied to the session.

The task `plan-watch` watches the plan's folder (editors save by renaming a new file into
place) and reloads once saves have stopped for one to two `QUIET_MS` steps (100-200 ms), so a
burst of saves makes one reload. A broken save keeps the running plan and records
`plan_rejected` (once per distinct error); the next good save is applied and its `plan_loaded`
clears the error. A good save is compared agent by agent with the session:

- an added agent is queued and starts when its `after` allows;
- a changed agent that has not started takes the change at once (a fresh `agent_queued`);
- a changed agent that has started (running or finished) takes it at its next fresh start,
  a restart or its next loop iteration (`plan_loaded.changed_on_restart`);
- a removed agent that has not started is skipped, "removed from the plan"; one that runs
  keeps running until it ends or is killed, with no further loop iteration
  (`plan_loaded.removed_still_running`).

Fleet settings that apply on reload: `budget` and `prices` (from the next model call),
`max_parallel` (raising it starts waiting agents, lowering it stops none), `stall_after`,
`loop_repeats` and `burn_tokens` (the watchdog's next check), `roles` (at each agent's next
fresh start) and providers not yet in use. `name`, `workdir`, `out`, `notify`, `workers` and the settings of a
provider already in use stay as the session began (`plan_loaded.settings_kept`); a provider
or role the new plan drops stays available to the agents still using it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from watchfiles import Change, awatch

from tokenmaxx.agents.budget import Budgets
from tokenmaxx.agents.plan import Plan, PlanError, load_plan
from tokenmaxx.agents.plan_errors import display_path
from tokenmaxx.agents.plan_models import AgentSpec
from tokenmaxx.agents.runs import AgentRun
from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.sessions import events as ev

if TYPE_CHECKING:
    from tokenmaxx.agents.supervisor import Supervisor

QUIET_MS = 100  # watchfiles' step: changes are yielded after a whole step with no new change
MAX_GROUP_MS = 1_600
REMOVED = "removed from the plan"
NOT_STARTED = frozenset({"queued", "waiting"})
SESSION_SETTINGS = ("name", "workdir", "out", "notify", "workers")


class Slots:
    """How many agents may run at once: a limit that a reload may raise or lower while agents wait."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    async def __aenter__(self) -> None:
        if self.used < self.size and not self._waiting:
            self.used += 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(granted)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.cancelled():
                if granted in self._waiting:
                    self._waiting.remove(granted)
            else:
                self._release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def resize(self, size: int) -> None:
        self.size = size
        self._wake()

    def _release(self) -> None:
        self.used -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self.used < self.size:
            granted = self._waiting.popleft()
            if not granted.done():
                self.used += 1
                granted.set_result(None)


@dataclass
class Changes:
    """What a new plan changes for the agents of a session."""

    added: list[AgentSpec] = field(default_factory=list)
    take_now: list[AgentSpec] = field(default_factory=list)
    on_restart: dict[str, AgentSpec] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def plan_changes(supervisor: Supervisor, plan: Plan) -> Changes:
    """Compare `plan`'s agents with the session's, each by its spec and whether it has started."""
    changes = Changes()
    wanted = {spec.name: spec for spec in plan.agents}
    for name in plan.topological_order():
        spec, run = wanted[name], supervisor.runs.get(name)
        if run is None or (name in supervisor.removed and _finished(supervisor, name)):
            changes.added.append(spec)
        elif spec == run.spec:
            changes.unchanged.append(name)
        elif _not_started(supervisor, run):
            changes.take_now.append(spec)
        else:
            changes.on_restart[name] = spec
    for name, run in supervisor.runs.items():
        if name not in wanted:
            changes.removed.append(name)
            if _not_started(supervisor, run):
                changes.dropped.append(name)
    return changes


def take_pending_spec(supervisor: Supervisor, run: AgentRun) -> None:
    """At a fresh start, give the agent the plan entry it changed to while it ran."""
    spec = supervisor.pending_specs.pop(run.name, None)
    if spec is not None:
        run.spec = spec
        supervisor.announce(spec)


class PlanReloader:
    """Applies the plan file, as it now reads, to a running supervisor."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self._rejected: str | None = None
        self._last_file = supervisor.plan

    def reload(self) -> ev.PlanLoaded | ev.PlanRejected | None:
        """Read the plan file and apply it; the event recorded, or None when nothing changed."""
        try:
            plan = load_plan(self.supervisor.plan.path)
        except PlanError as error:
            return self.reject(error)
        return self.apply(plan)

    def reject(self, error: PlanError) -> ev.PlanRejected | None:
        """Record a broken save (once per distinct error); the running plan stays."""
        where = f"line {error.line}" if error.line is not None else ""
        text = ": ".join(part for part in (where, error.field, error.message) if part)
        if text == self._rejected:
            return None
        self._rejected = text
        rejected = ev.PlanRejected(path=display_path(error.path), error=text)
        return self.supervisor.emit(rejected)  # type: ignore[return-value]

    def apply(self, new: Plan) -> ev.PlanLoaded | None:
        """Make `new` the session's plan: settings, then each agent as the module docstring says."""
        sup = self.supervisor
        running = sup.plan
        kept = _settings_kept(self._last_file, new, sup.providers_in_use)
        self._last_file = new
        plan = _session_plan(running, new, sup.providers_in_use)
        if plan == running and self._rejected is None:
            return None
        self._rejected = None
        changes = plan_changes(sup, plan)
        self._retune(plan)
        for name in changes.unchanged:
            sup.pending_specs.pop(name, None)
        sup.removed = set(changes.removed)
        for name in changes.removed:
            sup.pending_specs.pop(name, None)
        sup.pending_specs.update(changes.on_restart)
        loaded = sup.emit(_loaded(sup, plan, changes, kept))
        self._act(changes)
        return loaded  # type: ignore[return-value]

    def _retune(self, plan: Plan) -> None:
        sup = self.supervisor
        sup.plan = plan
        sup.budgets = Budgets(plan)
        if sup.workers is not None:
            sup.workers.publish_plan()
        sup.slots.resize(plan.max_parallel)
        sup.watchdog.stall_after_s = plan.stall_after
        sup.watchdog.loop_repeats = plan.loop_repeats
        sup.watchdog.burn_tokens = plan.burn_tokens

    def _act(self, changes: Changes) -> None:
        sup = self.supervisor
        for name in changes.dropped:
            _stop(sup.runs[name], "removed")
        for spec in changes.take_now:
            run = sup.runs[spec.name]
            after_changed = spec.after != run.spec.after
            run.spec = spec
            sup.announce(spec)
            if after_changed:
                _stop(run, "restart")
        for spec in changes.added:
            sup.add_agent(spec)


class PlanWatch:
    """The `plan-watch` task: reloads the plan when saves to its file have settled."""

    def __init__(self, supervisor: Supervisor, *, quiet_ms: int = QUIET_MS) -> None:
        self.reloader = PlanReloader(supervisor)
        self.path = supervisor.plan.path
        self.quiet_ms = quiet_ms
        self.ready = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._watch(), name="plan-watch")

    async def stop(self) -> None:
        await cancel_and_drain(self.task)

    async def _watch(self) -> None:
        # awatch places its inotify watch before it first waits, so `ready` holds once this task yields.
        self.ready.set()
        async for _ in awatch(
            self.path.parent,
            watch_filter=self._is_plan,
            step=self.quiet_ms,
            debounce=MAX_GROUP_MS,
            recursive=False,
        ):
            try:
                self.reloader.reload()
            except Exception as error:  # noqa: BLE001 - a reload that fails must not end the watch unseen
                failed = ev.PlanRejected(path=display_path(self.path), error=f"could not apply: {error!r}")
                self.reloader.supervisor.emit(failed)

    def _is_plan(self, change: Change, path: str) -> bool:
        return Path(path).name == self.path.name


def _stop(run: AgentRun, reason: str) -> None:
    run.stop_reason = reason
    if run.task is not None:
        run.task.cancel()


def _not_started(supervisor: Supervisor, run: AgentRun) -> bool:
    alive = run.task is not None and not run.task.done()
    return alive and supervisor.state.agents[run.name].status in NOT_STARTED


def _finished(supervisor: Supervisor, name: str) -> bool:
    agent = supervisor.state.agents.get(name)
    return agent is None or agent.finished


def _session_plan(running: Plan, new: Plan, in_use: frozenset[str]) -> Plan:
    """`new` with the session's own settings, and the providers and roles still in use kept."""
    providers = {**running.providers, **new.providers}
    providers.update({name: running.providers[name] for name in in_use if name in running.providers})
    update: dict[str, object] = {key: getattr(running, key) for key in SESSION_SETTINGS}
    update.update(providers=providers, roles={**running.roles, **new.roles})
    return new.model_copy(update=update)


def _settings_kept(previous: Plan, new: Plan, in_use: frozenset[str]) -> list[str]:
    """The settings this save changed that the session keeps as it began."""
    kept = [key for key in SESSION_SETTINGS if getattr(previous, key) != getattr(new, key)]
    for name in sorted(in_use):
        if name in new.providers and previous.providers.get(name) != new.providers[name]:
            kept.append(f"providers.{name}")
    return kept


def _loaded(sup: Supervisor, plan: Plan, changes: Changes, kept: list[str]) -> ev.PlanLoaded:
    dropped = set(changes.dropped)
    running = [name for name in changes.removed if name not in dropped and not _finished(sup, name)]
    return ev.PlanLoaded(
        path=str(plan.path),
        agents=[a.name for a in plan.agents],
        reload=True,
        budget_usd=plan.budget.usd,
        budget_tokens=plan.budget.tokens,
        changed_on_restart=sorted(sup.pending_specs),
        removed_still_running=running,
        settings_kept=kept,
    )
