"""An agent's conversation, as the model sees it, rebuilt from the agent's events alone.

The live loop keeps a conversation in memory; `rebuild` derives the same conversation from
stored events, which is what makes resume after a crash possible. Both follow one rule set:
a turn's streamed text and tool calls form one assistant message; tool results and any
supervisor reprompt form the next user message, closed off when the next turn starts; a
retried attempt's partial reply is discarded; a tool call without a result (the turn was
interrupted) gets an "interrupted" result; roles always alternate.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tokenmaxx.agents.providers.base import Message, Part, TextPart, ToolCallPart, ToolResultPart
from tokenmaxx.sessions import events as ev

INTERRUPTED = "interrupted by the supervisor before this call finished"
FRESH_START = "fresh start"


def initial_message(task: str, inputs: Iterable[tuple[str, int]] = ()) -> Message:
    """The first user message: the task, and the artifacts handed over by dependencies."""
    return Message("user", (TextPart(initial_text(task, inputs)),))


def initial_text(task: str, inputs: Iterable[tuple[str, int]] = ()) -> str:
    """The first prompt: the task, and the artifacts handed over by dependencies."""
    text = task.strip()
    listed = [f"- out:{path} ({size} bytes)" for path, size in inputs]
    if listed:
        text += "\n\nInputs from the agents you depend on (read them with read_file):\n" + "\n".join(listed)
    return text


def reprompt_text(text: str) -> str:
    return f"[supervisor] {text.strip()}"


@dataclass
class Conversation:
    """Committed messages plus the turn in progress: assistant output, then results and notes."""

    messages: list[Message] = field(default_factory=list)
    _text: list[str] = field(default_factory=list)
    _calls: list[ToolCallPart] = field(default_factory=list)
    _results: dict[str, ToolResultPart] = field(default_factory=dict)
    _notes: list[str] = field(default_factory=list)

    def start(self, first: Message) -> None:
        self.messages = [first]
        self._clear_turn()

    def begin_turn(self) -> None:
        self.commit()

    def discard_reply(self) -> None:
        """Forget the reply in progress (its attempt failed and will be retried)."""
        self._text, self._calls = [], []

    def text(self, chunk: str) -> None:
        self._text.append(chunk)

    def tool_call(self, call: ToolCallPart) -> None:
        self._calls.append(call)

    def tool_result(self, result: ToolResultPart) -> None:
        self._results[result.call_id] = result

    def note(self, text: str) -> None:
        """A message from the supervisor, delivered with the next request."""
        self._notes.append(text)

    def request_messages(self) -> tuple[Message, ...]:
        """The conversation as it would be sent now, with the turn in progress closed off."""
        return tuple(_joined(self.messages, self._turn_messages()))

    def commit(self) -> None:
        self.messages = _joined(self.messages, self._turn_messages())
        self._clear_turn()

    @property
    def open_calls(self) -> list[ToolCallPart]:
        return [c for c in self._calls if c.call_id not in self._results]

    def _clear_turn(self) -> None:
        self._text, self._calls, self._results, self._notes = [], [], {}, []

    def _turn_messages(self) -> list[Message]:
        out: list[Message] = []
        assistant: list[Part] = [TextPart("".join(self._text))] if self._text else []
        assistant.extend(self._calls)
        if assistant:
            out.append(Message("assistant", tuple(assistant)))
        user: list[Part] = [self._results.get(c.call_id) or ToolResultPart(c.call_id, INTERRUPTED, ok=False) for c in self._calls]
        user.extend(TextPart(note) for note in self._notes)
        if user:
            out.append(Message("user", tuple(user)))
        return out


def _joined(before: list[Message], after: list[Message]) -> list[Message]:
    """`before + after`, folding two adjacent user messages into one so roles alternate."""
    if before and after and before[-1].role == after[0].role == "user":
        return [*before[:-1], Message("user", before[-1].parts + after[0].parts), *after[1:]]
    return [*before, *after]


def has_started(events: Iterable[ev.Event], agent: str) -> bool:
    """Whether the agent ever started fresh in this session, so it has a conversation to go on with."""
    return any(
        isinstance(event, ev.AgentStatusChanged) and event.agent == agent and _is_fresh_start(event) for event in events
    )


def _is_fresh_start(event: ev.AgentStatusChanged) -> bool:
    return event.status == "starting" and event.reason.startswith(FRESH_START)


def rebuild(events: Iterable[ev.Event], agent: str) -> Conversation:
    """The conversation of `agent`'s latest run, from the session's events."""
    conversation = Conversation()
    task, after = "", ()
    artifacts: dict[str, dict[str, int]] = {}
    for event in events:
        if isinstance(event, ev.Artifact):
            produced = artifacts.setdefault(event.agent, {})
            produced.pop(event.path, None)
            produced[event.path] = event.bytes
        if getattr(event, "agent", None) != agent:
            continue
        match event:
            case ev.AgentQueued():
                task, after = event.task, tuple(event.after)
            case ev.AgentStatusChanged(status="starting", reason=reason) if reason.startswith(FRESH_START):
                inputs = [item for dep in after for item in artifacts.get(dep, {}).items()]
                conversation.start(initial_message(task, inputs))
            case ev.AgentStatusChanged(status="retrying"):
                conversation.discard_reply()
            case ev.TurnStarted():
                conversation.begin_turn()
            case ev.Text():
                conversation.text(event.text)
            case ev.ToolCall():
                conversation.tool_call(ToolCallPart(event.call_id, event.tool, dict(event.args)))
            case ev.ToolResult():
                conversation.tool_result(ToolResultPart(event.call_id, event.output, event.ok))
            case ev.SupervisorAction(action="reprompt" | "resume", text=text) if text:
                conversation.note(reprompt_text(text))
    return conversation
