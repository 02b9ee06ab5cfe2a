"""The demo's model for Claude Code: a local Anthropic Messages server that streams scripted replies.

Each demo role gets a believable reply that makes Claude Code call its Write tool for the role's
deliverables, then a closing text. It listens on 127.0.0.1 on a free port, answers
`POST /v1/messages` (any query string) with an SSE stream and reports usage in each reply.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

from tokenmaxx.agents.tasks import cancel_and_drain

DEMO_MODEL = "claude-sonnet-4-6"
READ_LIMIT = 16 * 1024 * 1024
CHUNK = 24
ROLES: tuple[tuple[str, dict[str, str], str], ...] = (
    ("critique.md", {"critique.md": "# Critique\n\nThe deck states each claim the fact-check supports; one contradicted claim still needs a caveat.\n"}, "Wrote critique.md: one claim needs a caveat."),
    ("index.html", {"index.html": "<!doctype html><html><body><h1>The fleet, in charts</h1><p>Lines of code grew steadily; failures fell by root cause.</p></body></html>\n"}, "Built index.html from the charts and the fact-check."),
    ("failures.csv", {"failures.csv": "bucket,root_cause,count\n2025-01,timeout,3\n2025-02,rate_limit,1\n", "failures.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="60"><rect x="0" y="10" width="150" height="20"/><rect x="0" y="35" width="50" height="20"/></svg>\n'}, "Wrote failures.csv and failures.svg: timeouts lead."),
    ("report.md", {"report.md": "# Fact-check\n\n1. Supported: the source's line 3 says so.\n2. Unverifiable: no source covers it.\n"}, "Checked the claims: report.md has a verdict for each."),
    ("loc.svg", {"loc.csv": "day,lines\n2025-01-01,120\n2025-01-02,310\n", "loc.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><polyline fill="none" stroke="black" points="0,90 100,60 200,20"/></svg>\n'}, "Charted lines of code: loc.svg and loc.csv."),
)
"""(a word that names the role's task, the files it writes, what it says at the end), most specific first."""
GENERIC = ("", {"notes.md": "# Notes\n\nDone.\n"}, "Done.")


@dataclass
class FakeAnthropic:
    """The server and its task; `base_url` once started."""

    server: asyncio.Server | None = None
    task: asyncio.Task[None] | None = None
    base_url: str = ""

    async def start(self) -> str:
        self.server = await asyncio.start_server(_answer, "127.0.0.1", 0, limit=READ_LIMIT)
        port = self.server.sockets[0].getsockname()[1]
        self.task = asyncio.create_task(self.server.serve_forever(), name="demo-model-server")
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        await cancel_and_drain(self.task)
        if self.server is not None:
            await self.server.wait_closed()


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """One request on a connection that closes after it."""
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        length = int(re.search(r"(?im)^content-length:\s*(\d+)", head).group(1)) if "content-length" in head.lower() else 0  # type: ignore[union-attr]
        body = json.loads(await reader.readexactly(length)) if length else {}
        if not head.startswith("POST /v1/messages"):
            writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n")
            writer.write("".join(reply_frames(body)).encode())
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, AttributeError):
        pass
    finally:
        writer.close()


def reply_frames(body: dict[str, Any]) -> list[str]:
    """The SSE frames answering one request: the role's Write calls first, then its closing text."""
    messages = [m for m in body.get("messages", []) if m.get("role") != "system"]
    text = json.dumps(messages)
    _, files, closing = next((role for role in ROLES if role[0] in _first_user(messages)), GENERIC)
    input_tokens = len(text) // 4 + 1
    if not any(m.get("role") == "assistant" for m in messages):
        folder = _working_folder(json.dumps(body))
        calls = [(f"toolu_demo_{i}", "Write", {"file_path": f"{folder}/{name}" if folder else name, "content": content}) for i, (name, content) in enumerate(files.items())]
        return _stream(input_tokens, [("text", f"Writing {', '.join(files)}.")] + [("tool_use", call) for call in calls], "tool_use")
    return _stream(input_tokens, [("text", closing)], "end_turn")


def _first_user(messages: list[dict[str, Any]]) -> str:
    first = next((m for m in messages if m.get("role") == "user"), {})
    return json.dumps(first.get("content", ""))


def _working_folder(request: str) -> str:
    found = re.search(r"[Ww]orking directory: ([^\s\\\"]+)", request)
    return found.group(1) if found else ""


def _stream(input_tokens: int, blocks: list[tuple[str, Any]], stop_reason: str) -> list[str]:
    usage = {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}
    start = {"id": "msg_demo", "type": "message", "role": "assistant", "model": DEMO_MODEL, "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
    frames, output = [_sse("message_start", {"type": "message_start", "message": start})], 0
    for index, (kind, value) in enumerate(blocks):
        if kind == "text":
            frames.append(_sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}))
            deltas = [{"type": "text_delta", "text": value[i : i + CHUNK]} for i in range(0, len(value), CHUNK)]
        else:
            call_id, name, args = value
            frames.append(_sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}}}))
            raw = json.dumps(args)
            deltas = [{"type": "input_json_delta", "partial_json": raw[i : i + 200]} for i in range(0, len(raw), 200)]
            value = raw
        frames += [_sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}) for delta in deltas]
        frames.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        output += len(value) // 4 + 1
    frames.append(_sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": {"input_tokens": input_tokens, "output_tokens": output}}))
    return frames + [_sse("message_stop", {"type": "message_stop"})]


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"
