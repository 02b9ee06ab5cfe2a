"""What the UI (or the watchdog) asks of a running fleet: one model per command.

Every command goes through `Supervisor.handle(command)`, which records it as a
`supervisor_action` event and acts on it without blocking the caller. `refusal` is the check
that needs only the fleet's state, so a client in another process can refuse at once what the
supervisor would refuse; the supervisor still checks again, with authority.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias, Union

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from tokenmaxx.sessions.state import AgentState, FleetState


class CommandError(Exception):
    """A command that does not apply now, with a message for the person who gave it."""


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    by: str = "user"


class Kill(_Command):
    action: Literal["kill"] = "kill"
    agent: str


class Pause(_Command):
    action: Literal["pause"] = "pause"
    agent: str


class Resume(_Command):
    action: Literal["resume"] = "resume"
    agent: str


class Reprompt(_Command):
    action: Literal["reprompt"] = "reprompt"
    agent: str
    text: str


class QueueReprompt(_Command):
    """A reprompt that waits for the agent's next safe point, held by the supervisor until then."""

    action: Literal["queue_reprompt"] = "queue_reprompt"
    agent: str
    text: str


class DropReprompt(_Command):
    action: Literal["drop_reprompt"] = "drop_reprompt"
    agent: str


class Restart(_Command):
    action: Literal["restart"] = "restart"
    agent: str


class Approve(_Command):
    action: Literal["approve"] = "approve"
    agent: str
    call_id: str
    always: bool = False  # allow this tool for this agent from now on


class Deny(_Command):
    action: Literal["deny"] = "deny"
    agent: str
    call_id: str


class Accept(_Command):
    action: Literal["accept"] = "accept"
    agent: str
    path: str
    note: str = ""


class Reject(_Command):
    action: Literal["reject"] = "reject"
    agent: str
    path: str
    note: str = ""


class StopAll(_Command):
    action: Literal["stop_all"] = "stop_all"


class ResumeAll(_Command):
    action: Literal["resume_all"] = "resume_all"


Command: TypeAlias = Annotated[
    Union[Kill, Pause, Resume, Reprompt, QueueReprompt, DropReprompt, Restart, Approve, Deny, Accept, Reject, StopAll, ResumeAll],
    Field(discriminator="action"),
]


def refusal(command: Command, state: FleetState) -> str | None:
    """Why `command` does not apply to a fleet in `state`, or None when it may."""
    match command:
        case StopAll():
            running = [a for a in state.agents.values() if not a.finished and not _paused(a)]
            return None if running else "no agent is running"
        case ResumeAll():
            return None if state.stopped else "nothing was stopped with stop-all"
        case _:
            agent = state.agents.get(command.agent)
            if agent is None:
                return f"no agent called {command.agent!r} in this session"
            return _agent_refusal(command, agent)


def _agent_refusal(command: Command, agent: AgentState) -> str | None:  # noqa: C901 - one arm per command
    match command:
        case Kill() | Pause() if agent.finished:
            return f"{agent.name} has already finished ({agent.status})"
        case Pause() if _paused(agent):
            return f"{agent.name} is already paused"
        case Resume() if not _paused(agent):
            return f"{agent.name} is not paused"
        case Reprompt() | QueueReprompt() if not command.text.strip():
            return "a reprompt needs a message"
        case DropReprompt() if not agent.queued_reprompt:
            return f"no message waits for {agent.name}"
        case Approve() | Deny() if all(p.call_id != command.call_id for p in agent.pending):
            return f"{agent.name} is not waiting for approval of call {command.call_id}"
        case Accept() | Reject() if all(a.path != command.path for a in agent.artifacts):
            return f"{agent.name} has no deliverable {command.path}"
    return None


def _paused(agent: AgentState) -> bool:
    return agent.status == "paused" or agent.pausing
