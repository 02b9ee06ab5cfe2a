"""Every event of a session: one pydantic model per kind, a discriminated union on `kind`.

The kind names and fields are a public contract: the store, exports and replay all use
this one codec (`encode`/`decode`). `seq` and `session_id` are assigned by the event log
when an event is appended; producers leave them at their defaults.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, TypeAlias, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

SessionStatus: TypeAlias = Literal["running", "done", "failed", "stopped", "interrupted"]
AgentStatus: TypeAlias = Literal[
    "queued",  # known, not started
    "waiting",  # waiting on dependencies
    "starting",
    "streaming",  # a model reply in flight
    "tool",  # running a tool
    "awaiting_approval",
    "retrying",  # rate-limited or a provider error, retry scheduled
    "paused",
    "done",
    "failed",
    "killed",
    "over_budget",
    "skipped",
]
Outcome: TypeAlias = Literal["done", "failed", "killed", "over_budget", "skipped"]
Flag: TypeAlias = Literal["stalled", "looping", "burning", "over_budget"]
Verdict: TypeAlias = Literal["accepted", "rejected"]
ErrorKind: TypeAlias = Literal[
    "auth", "rate_limit", "overloaded", "bad_request", "context_length", "connection", "server"
]
Action: TypeAlias = Literal[
    "kill",
    "pause",
    "resume",
    "reprompt",
    "restart",
    "approve",
    "deny",
    "accept",
    "reject",
    "stop_all",
    "resume_all",
    "queue_reprompt",
    "drop_reprompt",
]

FINISHED_STATUSES: frozenset[str] = frozenset({"done", "failed", "killed", "over_budget", "skipped"})


def now() -> float:
    """The current time as UTC epoch seconds."""
    return time.time()


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    session_id: str = ""
    seq: int = 0
    ts: float = Field(default_factory=now)


class SessionStarted(_Event):
    kind: Literal["session_started"] = "session_started"
    name: str
    plan: str | None = None
    cwd: str
    version: str
    prices: str | None = None  # the price table that priced this session
    out: str | None = Field(default=None, exclude_if=lambda out: out is None)  # where its agents write; left out when unknown


class SessionEnded(_Event):
    kind: Literal["session_ended"] = "session_ended"
    status: Literal["done", "failed", "stopped", "interrupted"]


class SessionResumed(_Event):
    """A stopped or interrupted session taken up again by a new process."""

    kind: Literal["session_resumed"] = "session_resumed"
    version: str
    agents: list[str]  # the unfinished agents that go on


class PlanLoaded(_Event):
    kind: Literal["plan_loaded"] = "plan_loaded"
    path: str
    agents: list[str]
    reload: bool = False
    budget_usd: float | None = None
    budget_tokens: int | None = None
    changed_on_restart: list[str] = []  # started agents whose new plan entry applies at their next fresh start
    removed_still_running: list[str] = []  # agents gone from the plan that run until they end or are killed
    settings_kept: list[str] = []  # fleet settings this save changed that the session keeps (name, workdir, out, ...)
    notices: list[str] = Field(default=[], exclude_if=lambda notices: not notices)
    """What the person running the fleet must know about it, such as commands that run unconfined; left out when none."""


class PlanRejected(_Event):
    kind: Literal["plan_rejected"] = "plan_rejected"
    path: str
    error: str


class AgentQueued(_Event):
    kind: Literal["agent_queued"] = "agent_queued"
    agent: str
    role: str
    provider: str
    model: str
    after: list[str] = []
    task: str = ""
    system: str = ""
    tools: list[str] = []
    loop_times: int = 1  # 0: until loop_until_usd
    loop_until_usd: float | None = Field(default=None, exclude_if=lambda usd: usd is None)  # left out when unset, so older records encode as they were


class AgentStatusChanged(_Event):
    kind: Literal["agent_status"] = "agent_status"
    agent: str
    status: AgentStatus
    reason: str = ""
    iteration: int | None = None
    inputs: list[str] = Field(default=[], exclude_if=lambda paths: not paths)
    """At a fresh start: the artifacts (out-relative paths) its dependencies handed it; left out when none."""
    harness_session: str | None = Field(default=None, exclude_if=lambda session: session is None)
    """The harness's own session (Claude Code session id, Codex thread id) once known, so resume goes on in it."""


class TurnStarted(_Event):
    kind: Literal["turn_started"] = "turn_started"
    agent: str
    turn: int


class Text(_Event):
    kind: Literal["text"] = "text"
    agent: str
    text: str


class ToolCall(_Event):
    kind: Literal["tool_call"] = "tool_call"
    agent: str
    call_id: str
    tool: str
    args: dict[str, Any]
    raw_args: str | None = Field(default=None, exclude_if=lambda raw: raw is None)  # the arguments as the model sent them, when they were not a JSON object


class ToolResult(_Event):
    kind: Literal["tool_result"] = "tool_result"
    agent: str
    call_id: str
    ok: bool
    output: str
    duration_s: float = 0.0


class ApprovalRequested(_Event):
    kind: Literal["approval_requested"] = "approval_requested"
    agent: str
    call_id: str
    tool: str
    args: dict[str, Any]
    reason: str = Field(default="", exclude_if=lambda reason: not reason)  # why it asks when the plan said auto


class ApprovalDecided(_Event):
    kind: Literal["approval_decided"] = "approval_decided"
    agent: str
    call_id: str
    approved: bool
    by: str = "user"


class UsageReported(_Event):
    """One model reply's usage. `input_tokens` counts all input, cached included."""

    kind: Literal["usage"] = "usage"
    agent: str
    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None  # None: the price is unknown
    server_cost_usd: float | None = Field(default=None, exclude_if=lambda usd: usd is None)  # the cost the server itself reported, beside our own price; left out when none
    cache_saved_usd: float | None = None  # what the cached input would have cost uncached, less what it did
    estimated: bool = False  # True when the provider never confirmed these numbers
    simulated: bool = False  # priced as a real model by the sim provider
    harness_cost_usd: float | None = Field(default=None, exclude_if=lambda usd: usd is None)
    """What the harness itself (Claude Code) says this turn cost, beside tokenmaxx's own price; left out when none."""


class ProviderError(_Event):
    kind: Literal["provider_error"] = "provider_error"
    agent: str
    error_kind: ErrorKind
    message: str
    retry_in_s: float | None = None


class AgentFlagged(_Event):
    kind: Literal["agent_flagged"] = "agent_flagged"
    agent: str
    flag: Flag
    detail: str = ""


class SupervisorAction(_Event):
    kind: Literal["supervisor_action"] = "supervisor_action"
    agent: str | None = None  # None: the whole fleet
    action: Action
    text: str = ""
    by: str = "user"  # "user" or "watchdog"


class DiffFile(BaseModel):
    """One file of a diff deliverable and its lines added and removed (0 and 0 for a binary file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    added: int
    removed: int


class DiffSummary(BaseModel):
    """A coding agent's changes on its branch against the commit it started from, and whether they merge cleanly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    branch: str
    base_sha: str
    target: str | None  # the branch an accepted diff merges into; None when the base is no branch
    files: list[DiffFile]
    added: int
    removed: int
    applies: bool  # whether it merges into the target's current head without a conflict
    refused: str = Field(default="", exclude_if=lambda refused: not refused)  # why the last accept could not merge


class Artifact(_Event):
    kind: Literal["artifact"] = "artifact"
    agent: str
    path: str
    bytes: int
    sha256: str
    diff: DiffSummary | None = Field(default=None, exclude_if=lambda diff: diff is None)  # set for a worktree's diff


class ArtifactReview(_Event):
    kind: Literal["artifact_review"] = "artifact_review"
    agent: str
    path: str
    verdict: Verdict
    note: str = ""


class AgentFinished(_Event):
    kind: Literal["agent_finished"] = "agent_finished"
    agent: str
    outcome: Outcome
    summary: str = ""


Event: TypeAlias = Annotated[
    Union[
        SessionStarted,
        SessionEnded,
        SessionResumed,
        PlanLoaded,
        PlanRejected,
        AgentQueued,
        AgentStatusChanged,
        TurnStarted,
        Text,
        ToolCall,
        ToolResult,
        ApprovalRequested,
        ApprovalDecided,
        UsageReported,
        ProviderError,
        AgentFlagged,
        SupervisorAction,
        Artifact,
        ArtifactReview,
        AgentFinished,
    ],
    Field(discriminator="kind"),
]

EVENT_TYPES: dict[str, type[_Event]] = {
    t.model_fields["kind"].default: t for t in Event.__origin__.__args__  # type: ignore[attr-defined]
}
KINDS: frozenset[str] = frozenset(EVENT_TYPES)

_adapter: TypeAdapter[Event] = TypeAdapter(Event)
_BASE_FIELDS = ("session_id", "seq", "ts", "kind")


class UnknownEventKind(ValueError):
    """An event whose `kind` this version does not know."""


def encode(event: Event) -> str:
    """The event as one line of JSON."""
    return event.model_dump_json()


def decode(line: str | bytes) -> Event:
    """Parse one JSON event; raises UnknownEventKind or pydantic's ValidationError."""
    try:
        return _adapter.validate_json(line)
    except ValidationError as error:
        if any(e["type"] == "union_tag_invalid" for e in error.errors()):
            raise UnknownEventKind(_kind_of(error)) from None
        raise


def _kind_of(error: ValidationError) -> str:
    for e in error.errors():
        if e["type"] == "union_tag_invalid":
            return str(e.get("ctx", {}).get("tag", "?"))
    return "?"


def payload_json(event: Event) -> str:
    """The event's own fields (without session_id, seq, ts, kind) as compact JSON."""
    return event.model_dump_json(exclude=set(_BASE_FIELDS))


def from_row(session_id: str, seq: int, ts: float, kind: str, payload: str | bytes) -> Event:
    """Rebuild an event from its stored columns without re-validating trusted data."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise UnknownEventKind(kind)
    fields: dict[str, Any] = _loads(payload)
    return cls.model_validate({**fields, "session_id": session_id, "seq": seq, "ts": ts, "kind": kind})


def _loads(payload: str | bytes) -> dict[str, Any]:
    import json

    return json.loads(payload)
