"""What the UI (or the watchdog) asks of a running fleet: one model per command.

Every command goes through `Supervisor.handle(command)`, which records it as a
`supervisor_action` event and acts on it without blocking the caller.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias, Union

from pydantic import BaseModel, ConfigDict, Field


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
    Union[Kill, Pause, Resume, Reprompt, Restart, Approve, Deny, Accept, Reject, StopAll, ResumeAll],
    Field(discriminator="action"),
]
