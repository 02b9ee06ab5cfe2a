"""Taking up a session whose process died: rebuild each unfinished agent from its events and go on.

Finished agents stay finished; budgets count what was already spent, because the state
the new supervisor starts from is the reduced history of the same session.
"""

from __future__ import annotations

from pathlib import Path

from agents.conversation import rebuild, reprompt_text
from agents.plan import Plan, PlanError, load_plan
from agents.runs import AgentRun
from agents.supervisor import VERSION, Supervisor
from sessions import events as ev
from sessions.log import EventLog
from sessions.state import reduce_all
from sessions.store import Store

RESUME_NOTE = "The session was interrupted and has been resumed. Carry on from where you stopped."
RESUMABLE = frozenset({"interrupted", "stopped"})


class CannotResume(Exception):
    """A session that cannot be resumed, with the reason and what to do."""


async def resumed_supervisor(store: Store, session_id: str, **options: object) -> tuple[Supervisor, list[ev.Event]]:
    """A supervisor for an interrupted or stopped session, with that session's events."""
    summary = await store.session(session_id)
    if summary.status not in RESUMABLE:
        hint = "it is still running in another process" if summary.status == "running" else "nothing is left to do"
        raise CannotResume(f"session {session_id} is {summary.status}: {hint}")
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
        run.conversation = rebuild(events, spec.name)
        started = bool(run.conversation.messages)
        if started:
            supervisor.emit(ev.SupervisorAction(agent=spec.name, action="resume", text=RESUME_NOTE, by="resume"))
            run.conversation.note(reprompt_text(RESUME_NOTE))
        supervisor.launch(run, fresh=not started)
    supervisor.start_watchdog()
