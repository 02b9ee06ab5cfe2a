"""A fake OpenAI Responses API: `POST /v1/responses` answered with scripted SSE, for the Codex CLI.

See tests/fakes/__init__.py for the scripting API. The wire format (the minimum Codex 0.171
accepts, HARNESSES.md §2): `response.created`, then per output item `response.output_item.added`,
for a message its `response.output_text.delta`s, `response.output_item.done` with the whole
item, and finally `response.completed` carrying the usage. A tool call is a `function_call`
item (`exec_command` with `{"cmd": ...}` for a shell command); Codex answers it in the next
request, whose last `input` item is the `function_call_output`.

    with ResponsesFakeServer() as server:
        server.enqueue(responses_server.command_reply("echo hi > out.txt"),
                       responses_server.text_reply("Done."))
        ... point codex's provider base_url at server.base_url ...
        responses_server.last_input(server.requests[1])["type"] == "function_call_output"
"""

from __future__ import annotations

import json
from itertools import count
from typing import Any

from tests.fakes import Call, FakeServer, Recorded, ServerUsage, Status, Stream, split_text, sse

_ids = count(1)


class ResponsesFakeServer(FakeServer):
    """Give `base_url` (which ends in /v1) to Codex as the provider's base_url."""

    api_prefix = "/v1"


def text_reply(text: str, *, chunks: int = 3, usage: ServerUsage = ServerUsage(), gap_s: float = 0.0) -> Stream:
    """A text answer streamed in `chunks` output_text deltas."""
    return Stream(tuple([_created()] + _message(text, chunks) + [_completed(usage)]), gap_s=gap_s)


def tool_reply(*calls: Call, text: str = "", usage: ServerUsage = ServerUsage()) -> Stream:
    """Optional text, then one function_call item per call."""
    frames = [_created()] + (_message(text, 2) if text else [])
    for call in calls:
        frames += _function_call(call)
    return Stream(tuple(frames + [_completed(usage)]))


def command_reply(cmd: str, *, call_id: str | None = None, text: str = "", usage: ServerUsage = ServerUsage()) -> Stream:
    """Codex's shell tool called with `cmd`."""
    return tool_reply(Call(call_id or f"call_{next(_ids)}", "exec_command", {"cmd": cmd}), text=text, usage=usage)


def stalled(text: str = "I will keep talking", *, pieces: int = 400, gap_s: float = 0.05) -> Stream:
    """A reply that starts, then trickles text for `pieces * gap_s` seconds (kill and reprompt it mid-stream)."""
    frames = [_created()] + _message(("tick " * pieces) + text, pieces)[:-1]
    return Stream(tuple(frames), gap_s=gap_s)


def rate_limited(retry_after: str = "1") -> Status:
    """HTTP 429 with a Retry-After header."""
    body = {"error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}}
    return Status(429, body, {"retry-after": retry_after})


def server_error(status: int = 500) -> Status:
    """An HTTP 5xx with a server_error body."""
    return Status(status, {"error": {"message": "The server had an error", "type": "server_error", "param": None, "code": None}})


def wire_usage(usage: ServerUsage) -> dict[str, Any]:
    """`usage` as the Responses API reports it: input_tokens counts cached tokens, output_tokens reasoning."""
    prompt = usage.uncached_input + usage.cache_read + usage.cache_write
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": usage.cache_read},
        "output_tokens": usage.output,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": prompt + usage.output,
    }


def last_input(request: Recorded) -> dict[str, Any]:
    """The last item of a recorded request's `input`."""
    return request.body["input"][-1]


def input_texts(request: Recorded) -> list[str]:
    """Every text a recorded request's `input` carries, in order (messages and tool outputs)."""
    texts: list[str] = []
    for item in request.body["input"]:
        if item.get("type") == "function_call_output":
            texts.append(str(item.get("output")))
        for part in item.get("content") or []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
    return texts


def _created() -> str:
    response = {"id": f"resp_{next(_ids)}", "object": "response", "status": "in_progress", "output": []}
    return _event("response.created", response=response)


def _message(text: str, chunks: int) -> list[str]:
    item_id = f"msg_{next(_ids)}"
    head = {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress", "content": []}
    frames = [_event("response.output_item.added", output_index=0, item=head)]
    for part in split_text(text, chunks):
        frames.append(_event("response.output_text.delta", item_id=item_id, output_index=0, content_index=0, delta=part))
    content = [{"type": "output_text", "text": text, "annotations": []}]
    done = {**head, "status": "completed", "content": content}
    return frames + [_event("response.output_item.done", output_index=0, item=done)]


def _function_call(call: Call) -> list[str]:
    arguments = call.args if isinstance(call.args, str) else json.dumps(call.args)
    item = {"type": "function_call", "id": f"fc_{next(_ids)}", "call_id": call.id, "name": call.name, "arguments": arguments}
    return [
        _event("response.output_item.added", output_index=1, item={**item, "status": "in_progress", "arguments": ""}),
        _event("response.output_item.done", output_index=1, item={**item, "status": "completed"}),
    ]


def _completed(usage: ServerUsage) -> str:
    response = {"id": f"resp_{next(_ids)}", "object": "response", "status": "completed", "output": [], "usage": wire_usage(usage)}
    return _event("response.completed", response=response)


def _event(kind: str, **fields: Any) -> str:
    return sse({"type": kind, **fields}, event=kind)
