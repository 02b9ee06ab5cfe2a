"""What a simulated policy sees of a conversation (`Context`) and what it answers with (`Step`)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from tokenmaxx.agents.providers.base import Message, ModelRequest, ToolCallPart, ToolResultPart
from tokenmaxx.agents.summary import TASK_FAILED

PATH_IN_TASK = re.compile(r"(?<![\w:])((?:out:)?[\w./-]+\.(?:md|html|svg|csv|txt))\b")
TRUNCATED = re.compile(r"\n\[truncated: \d+ more characters; continue with offset=(\d+)\]$")


@dataclass(frozen=True, slots=True)
class Call:
    """A tool call a policy asks for."""

    name: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Step:
    """One reply: text to say, then tool calls; a step without calls ends the agent's turn."""

    text: str
    calls: tuple[Call, ...] = ()

    @property
    def done(self) -> bool:
        return not self.calls


@dataclass(frozen=True, slots=True)
class Exchange:
    """A tool call the agent made earlier and the result that came back."""

    name: str
    args: dict[str, Any]
    output: str
    ok: bool


@dataclass(frozen=True, slots=True)
class Context:
    """The conversation so far, reduced to what a policy decides on."""

    agent: str
    role: str
    task: str
    turn: int  # 1 for the first reply of a run
    exchanges: tuple[Exchange, ...]
    reprompt: str  # the supervisor's message when it is the last one, else ""
    reprompts: int  # how many messages the supervisor has sent in this conversation
    rng: random.Random

    def calls_to(self, name: str) -> list[Exchange]:
        """Every finished call to the tool `name`, oldest first."""
        return [e for e in self.exchanges if e.name == name]

    def reads(self) -> dict[str, Exchange]:
        """The latest read_file result per path."""
        return {str(e.args.get("path", "")): e for e in self.calls_to("read_file")}

    def writes(self) -> dict[str, Exchange]:
        """The latest write_file result per path."""
        return {str(e.args.get("path", "")): e for e in self.calls_to("write_file")}

    def file_text(self, path: str) -> tuple[str, int | None]:
        """A file's text from its read_file pages so far, and the offset to read next if it was cut off."""
        text, next_offset = "", None
        for page in (e for e in self.calls_to("read_file") if e.args.get("path") == path and e.ok):
            offset = page.args.get("offset", 1)
            text = "" if offset == 1 else text
            cut = TRUNCATED.search(page.output)
            if cut is None:
                text, next_offset = text + page.output, None
                continue
            shown = page.output[: cut.start()]
            whole_lines = shown[: shown.rfind("\n") + 1]
            progressed = int(cut[1]) > offset and whole_lines
            text += whole_lines if progressed else shown
            next_offset = int(cut[1]) if progressed else None
        return text, next_offset

    def to_read(self, paths: list[str]) -> tuple[Call, ...]:
        """The read_file calls still needed: paths not read yet, and the rest of files that were cut off."""
        calls = []
        reads = self.reads()
        for path in paths:
            if path not in reads:
                calls.append(Call("read_file", {"path": path}))
                continue
            _, next_offset = self.file_text(path)
            if next_offset is not None:
                calls.append(Call("read_file", {"path": path, "offset": next_offset}))
        return tuple(calls)

    def task_paths(self, suffix: str) -> list[str]:
        """The file paths ending in `suffix` that the task names, in order, without repeats."""
        found = [p.rstrip(".") for p in PATH_IN_TASK.findall(self.task)]
        return list(dict.fromkeys(p for p in found if p.endswith(suffix)))

    def pick(self, *phrasings: str) -> str:
        """One of several ways to say the same thing, chosen by the seeded generator."""
        return self.rng.choice(phrasings)


def gave_up(text: str) -> Step:
    """A final reply saying why the task cannot be done, ending with the words that make the agent's outcome failed."""
    return Step(f"{text} {TASK_FAILED}")


def plural(count: int, word: str) -> str:
    """`count word`, with an s when the count is not one."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def first_line(output: str) -> str:
    """The first non-blank line of a tool's output, for quoting it in a reply."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[0] if lines else "no output"


def context_from(request: ModelRequest, *, seed: int, run: int) -> Context:
    """Reduce a model request to a policy context, seeded by (seed, agent, run, turn)."""
    messages = request.messages
    turn = 1 + sum(1 for m in messages if m.role == "assistant")
    return Context(
        agent=request.agent,
        role=request.role,
        task=messages[0].text if messages else "",
        turn=turn,
        exchanges=tuple(_exchanges(messages)),
        reprompt=reprompt_of(messages),
        reprompts=sum(1 for m in messages[1:] if m.role == "user" and m.text.strip()),
        rng=random.Random(f"{seed}/{request.agent}/{run}/{turn}"),
    )


def reprompt_of(messages: tuple[Message, ...]) -> str:
    """The text of the last message when it is a user's message other than the task."""
    if len(messages) < 2 or messages[-1].role != "user":
        return ""
    return messages[-1].text.strip()


def is_fresh(messages: tuple[Message, ...]) -> bool:
    """Whether a conversation is at its very start: only the task, nothing answered yet."""
    return len(messages) == 1 and messages[0].role == "user"


def _exchanges(messages: tuple[Message, ...]) -> list[Exchange]:
    results = {
        part.call_id: part
        for m in messages
        if m.role == "user"
        for part in m.parts
        if isinstance(part, ToolResultPart)
    }
    found = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, ToolCallPart) and part.call_id in results:
                result = results[part.call_id]
                found.append(Exchange(part.name, dict(part.args), result.output, result.ok))
    return found

