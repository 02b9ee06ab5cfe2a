"""The model server of the harness benchmark, run as a process of its own so its CPU is not tokenmaxx's.

Run: python bench/harness_fake.py claude|codex [--tokens T] [--gap S]. It prints its base URL
on one line, then serves until its stdin closes. Every request that does not carry a tool
result is answered with a short text and one shell command (writing a file in the agent's
folder); a request that carries one is answered with a text of about T tokens streamed in
pieces S seconds apart. The answer depends only on the request, so any number of agents can
share the server in any order.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes import Call, FakeServer, Recorded, Reply, ServerUsage  # noqa: E402
from tests.fakes import anthropic_server, responses_server  # noqa: E402

CHARS_PER_TOKEN = 4
PIECE_TOKENS = 5
WORDS = "The module reads its input, checks every field and writes a short report of what it found. "
COMMAND = "printf 'bench\\n' > bench.txt"
_calls = count(1)


@dataclasses.dataclass(frozen=True)
class Pacing:
    """How long the closing text is and how it is paced."""

    tokens: int
    gap_s: float

    def text(self) -> str:
        chars = self.tokens * CHARS_PER_TOKEN
        return (WORDS * (chars // len(WORDS) + 1))[:chars]

    @property
    def pieces(self) -> int:
        return max(1, self.tokens // PIECE_TOKENS)

    def usage(self) -> ServerUsage:
        return ServerUsage(uncached_input=1500, output=self.tokens)


class _Paced(FakeServer):
    """Answers each request from the request alone, whatever the order the agents send them in."""

    def __init__(self, pacing: Pacing) -> None:
        super().__init__()
        self.pacing = pacing

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
        return self.answer(recorded)

    def answer(self, recorded: Recorded) -> Reply:
        raise NotImplementedError


class ClaudeBenchServer(_Paced, anthropic_server.AnthropicFakeServer):
    """Answers the Claude Code CLI: a Bash call, then a paced text once the call's result comes back."""

    def answer(self, recorded: Recorded) -> Reply:
        if _has_tool_result(recorded.body.get("messages", [])):
            reply = anthropic_server.text_reply(self.pacing.text(), chunks=self.pacing.pieces, usage=self.pacing.usage())
            return dataclasses.replace(reply, gap_s=self.pacing.gap_s)
        call = Call(f"toolu_bench_{next(_calls)}", "Bash", {"command": COMMAND, "description": "write"})
        return anthropic_server.tool_reply(call, text="Writing the file first.", usage=ServerUsage(1200, 40))


class CodexBenchServer(_Paced, responses_server.ResponsesFakeServer):
    """Answers the Codex CLI: an exec_command call, then a paced text once the call's output comes back."""

    def answer(self, recorded: Recorded) -> Reply:
        if responses_server.last_input(recorded).get("type") == "function_call_output":
            return responses_server.text_reply(self.pacing.text(), chunks=self.pacing.pieces, usage=self.pacing.usage(), gap_s=self.pacing.gap_s)
        return responses_server.command_reply(COMMAND, text="Writing the file first.", usage=ServerUsage(1200, 40))


def _has_tool_result(messages: list[dict[str, object]]) -> bool:
    last = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    content = last.get("content")
    return isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("harness", choices=("claude", "codex"))
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--gap", type=float, default=0.03)
    args = parser.parse_args()
    pacing = Pacing(args.tokens, args.gap)
    server: FakeServer = ClaudeBenchServer(pacing) if args.harness == "claude" else CodexBenchServer(pacing)
    with server:
        print(server.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
