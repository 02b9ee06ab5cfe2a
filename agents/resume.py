"""Taking up a session whose process died: rebuild each unfinished agent from its events and go on.

Finished agents stay finished; budgets count what was already spent, because the state
the new supervisor starts from is the reduced history of the same session.
A resumer holds the session's lock (`sessions.session_lock`) while its store is open, so two
`resume` of one session never run at once, and a session whose process still runs is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tokenmaxx.agents.conversation import has_started, reprompt_text
from tokenmaxx.agents.plan import Plan, PlanError, load_plan
from tokenmaxx.agents.runs import AgentRun
from tokenmaxx.agents.supervisor import VERSION, Supervisor
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import EventLog
from tokenmaxx.sessions.state import reduce_all
from tokenmaxx.sessions.session_lock import Probe
from tokenmaxx.sessions.store import LockUnavailable, SessionBusy, Store

RESUME_NOTE = "The session was interrupted and has been resumed. Carry on from where you stopped."
RESUMABLE = frozenset({"interrupted", "stopped"})

Warn = Callable[[str], None]


class CannotResume(Exception):
    """A session that cannot be resumed, with the reason and what to do."""


async def resumed_supervisor(
    store: Store, session_id: str, *, force: Warn | None = None, **options: object
) -> tuple[Supervisor, list[ev.Event]]:
    """A supervisor for an interrupted or stopped session, with that session's events, once `store` holds its lock.

    `force`, when given, also takes up a session that reads as running with no lock to say so
    (recorded before session locks, or on another host), after a warning through it.
    """
    taken = await _claim(store, session_id, force)
    try:
        return await _supervisor_of(store, session_id, options)
    except BaseException:
        if taken:
            store.locks.release(session_id)
        raise


async def _claim(store: Store, session_id: str, force: Warn | None) -> bool:
    """Take the session's lock (True) unless this store holds it already and the session ended (False)."""
    status = (await store.session(session_id)).status
    _check_status(session_id, status)
    if status == "running" and store.locks.probe(session_id) is not Probe.HELD:
        _force_unchecked(session_id, force)
    if status in RESUMABLE and store.locks.holds(session_id):
        return False
    _take_lock(store, session_id, force)
    return True


def _take_lock(store: Store, session_id: str, force: Warn | None) -> None:
    """One resumer per session, and none while its process runs."""
    try:
        store.locks.claim(session_id)
    except SessionBusy as error:
        raise CannotResume(str(error)) from None
    except LockUnavailable as error:
        if force is None:
            raise CannotResume(f"{error}; resume with --force to go on without it") from None
        force(f"{error}; resuming session {session_id} without it (--force)")


def _check_status(session_id: str, status: str) -> None:
    if status not in RESUMABLE and status != "running":
        raise CannotResume(f"session {session_id} is {status}: nothing is left to do")


def _force_unchecked(session_id: str, force: Warn | None) -> None:
    """A session that reads as running by its pid alone goes on only with --force, and a warning."""
    if force is None:
        raise CannotResume(
            f"session {session_id} reads as still running, and it has no session lock to check (recorded by an "
            "older tokenmaxx, or on another host); if no process runs it any more, resume it with --force"
        )
    force(
        f"session {session_id} reads as running and no lock can tell; resuming it anyway (--force): "
        "if its process still runs, both write to the same folder"
    )


async def _supervisor_of(store: Store, session_id: str, options: dict[str, object]) -> tuple[Supervisor, list[ev.Event]]:
    _check_status(session_id, (await store.session(session_id)).status)  # it may have ended before the lock was ours
    events = await store.events(session_id)
    state = reduce_all(events)
    plan = _plan_of(state.plan, session_id)
    missing = [name for name, agent in state.agents.items() if not agent.finished and name not in {a.name for a in plan.agents}]
    if missing:
        raise CannotResume(f"the plan {plan.path} no longer has agent(s) {', '.join(missing)}; put them back to resume")
    started = next((e for e in events if isinstance(e, ev.SessionStarted)), None)
    out_root = Path(started.out) if started is not None and started.out else None  # where it wrote, --out included
    supervisor = Supervisor(plan, store, EventLog(store, session_id, state=state), out_root=out_root, **options)  # type: ignore[arg-type]
    return supervisor, events


def _plan_of(path: str | None, session_id: str) -> Plan:
    if not path:
        raise CannotResume(f"session {session_id} has no plan file to resume from")
    try:
        return load_plan(Path(path))
    except PlanError as error:
        raise CannotResume(f"cannot read the plan of session {session_id}: {error}") from None


async def resume(supervisor: Supervisor, events: list[ev.Event]) -> None:
    """Record the resumption and set every unfinished agent going again; returns at once."""
    state = supervisor.state
    unfinished = [a.name for a in supervisor.plan.agents if a.name in state.agents and not state.agents[a.name].finished]
    supervisor.out_root.mkdir(parents=True, exist_ok=True)
    supervisor.emit(ev.SessionResumed(version=VERSION, agents=unfinished))
    for spec in supervisor.plan.agents:
        agent = state.agents.get(spec.name)
        if agent is None:
            supervisor.add_agent(spec)
            continue
        run = AgentRun(spec, iteration=agent.iteration)
        supervisor.runs[spec.name] = run
        if agent.finished:
            continue
        started = has_started(events, spec.name)
        if started:
            supervisor.emit(ev.SupervisorAction(agent=spec.name, action="resume", text=RESUME_NOTE, by="resume"))
            run.restore(events)
            run.note(reprompt_text(RESUME_NOTE))
        supervisor.launch(run, fresh=not started)
    for agent in state.agents.values():
        if agent.queued_reprompt and not agent.finished:  # still waiting when the last process died: sent at its first safe point
            supervisor.reprompts.put(agent, agent.queued_reprompt)
    supervisor.start_watchdog()
