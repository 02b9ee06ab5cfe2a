"""Local fake model servers that the real SDKs talk to over HTTP on 127.0.0.1.

`AnthropicFakeServer` (tests/fakes/anthropic_server.py) speaks the Messages streaming
protocol, `OpenAIFakeServer` (tests/fakes/openai_server.py) Chat Completions streaming.
Both are a `FakeServer`: a stdlib `ThreadingHTTPServer` in a daemon thread on a free port,
answering each POST with the next scripted reply.

    with AnthropicFakeServer() as server:             # or server.start() ... server.stop()
        server.enqueue(anthropic_server.rate_limited(retry_after="2"),
                       anthropic_server.text_reply("Hello there", chunks=3))
        provider = AnthropicProvider("claude", api_key="k", base_url=server.base_url)
        ...
        server.requests[0].body["system"]             # parsed JSON of each request
        server.requests[0].headers["authorization"]   # header names are lower-case
        server.wait_for_disconnect(timeout=5)         # monotonic time the client hung up
        server.errors                                 # exceptions in the fake itself (want [])

Scripted replies (both modules build them with the same function names):
  text_reply(text, chunks=, usage=, stop_reason=)  a text answer streamed in `chunks` pieces
  tool_reply(*calls, text=, pieces=, usage=)       tool calls (`Call(id, name, args)`), the
                                                   arguments' JSON split in `pieces`; OpenAI
                                                   interleaves several calls by index
  rate_limited(retry_after=, retry_after_ms=)      HTTP 429 with those headers
  overloaded()                                     HTTP 529 (Anthropic) or 503 (OpenAI)
  server_error(status=500)                         an HTTP 5xx
  unauthorized()                                   HTTP 401
  error_reply(status, error_type, message)         any error status with its JSON body
  context_too_long()                               HTTP 400 saying the prompt is too long
  in_stream_error(error_type, text=, usage=)       a stream that starts, then reports an error
  dropped(text, usage=)                            a stream cut mid-reply (socket closed)
  malformed(text=, usage=)                         a stream with an event that is not JSON
  slow(pieces=, gap_s=)                            a long stream, `gap_s` between events
Custom replies: `Stream(frames, gap_s=, drop_after=, headers=)` built from `sse(data, event)`
frames (e.g. a reply's `.frames[:4]` for a stream that ends early), `Status(status, body,
headers, content_type)` for any plain answer (a str body is sent as it is).

What real gateways were seen to do, each reproduced by a builder whose docstring names it:
  costed_reply(...)     LiteLLM: `cost` in the usage chunk      (openai_server)
  openrouter_reply(...) OpenRouter: `usage.cost` with cost_details (openai_server)
  whole_json(...)       LiteLLM: one JSON completion for a streaming request (both)
  html_error(501)       Python's http.server: 501 HTML page for a POST (openai_server)
  not_found()           Ollama: a bare 404 for a base_url missing /v1 (openai_server)
  dropped(...)          a proxy killed mid-stream (both)
  zero_input_start(...) LiteLLM's /v1/messages: input_tokens 0 in message_start (anthropic_server)
  GATEWAY_MODELS        LiteLLM and OpenRouter model names, `provider/model` (openai_server) `server.pending` counts the replies not yet consumed.

`collect(provider, request)` and `collect_until_failure(provider, request)` drive an adapter;
`cancel_mid_stream(provider, request, server)` measures how fast a cancelled stream hangs up;
`texts_of(*failures)` is everything a failure can print (to look for a planted key).
`ServerUsage` describes what a server reports in neutral terms (uncached input, cache reads
and writes, output, reasoning); each module encodes it in its own wire format. When the
queue is empty the server answers 500 "no scripted reply", so a test that under-scripts
fails loudly. The servers never print or log anything (request headers hold the API key).
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class ServerUsage:
    """What a fake server reports as the reply's usage, in neutral terms."""

    uncached_input: int = 25
    output: int = 12
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


@dataclass(frozen=True, slots=True)
class Call:
    """A tool call a scripted reply makes; `args` given as a str is sent verbatim (malformed JSON)."""

    id: str
    name: str
    args: dict[str, Any] | str


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True, slots=True)
class Stream:
    """A 200 text/event-stream reply: SSE frames, optionally slow or cut after `drop_after` frames."""

    frames: tuple[str, ...]
    gap_s: float = 0.0
    drop_after: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Status:
    """A plain reply with an HTTP status: JSON for a dict body, else the text as `content_type`."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


Reply = Stream | Status


async def collect(provider: Any, request: Any) -> list[Any]:
    """Every event `provider.stream(request)` yields."""
    return [event async for event in provider.stream(request)]


async def collect_until_failure(provider: Any, request: Any) -> tuple[list[Any], Any]:
    """The events yielded before the stream raised, and the `ProviderFailure` it raised."""
    from tokenmaxx.agents.providers.base import ProviderFailure

    events: list[Any] = []
    try:
        async for event in provider.stream(request):
            events.append(event)
    except ProviderFailure as failure:
        return events, failure
    raise AssertionError(f"expected a ProviderFailure, the stream ended normally with {events[-2:]}")


async def cancel_mid_stream(provider: Any, request: Any, server: FakeServer) -> float:
    """Cancel a consumer after its first text delta; seconds until `server` saw the hang-up."""
    from tokenmaxx.agents.providers.base import TextDelta

    first_text = asyncio.Event()

    async def consume() -> None:
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                first_text.set()

    task = asyncio.create_task(consume(), name="fake-consumer")
    await asyncio.wait_for(first_text.wait(), timeout=10)
    cancelled_at = time.monotonic()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    hung_up = await asyncio.to_thread(server.wait_for_disconnect, 10)
    if hung_up is None:
        raise AssertionError("the server never saw the client hang up")
    return hung_up - cancelled_at


def texts_of(*failures: BaseException) -> list[str]:
    """Every text a failure shows: str, repr and the formatted traceback."""
    return [t for f in failures for t in (str(f), repr(f), "".join(traceback.format_exception(f)))]


def sse(data: Any, event: str | None = None) -> str:
    """One SSE frame carrying `data` as JSON (or verbatim when it is a str)."""
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n"


def split_text(text: str, pieces: int) -> list[str]:
    """`text` cut into `pieces` consecutive non-empty parts (fewer if it is shorter)."""
    pieces = max(1, min(pieces, len(text)))
    step, extra = divmod(len(text), pieces)
    parts, start = [], 0
    for i in range(pieces):
        end = start + step + (1 if i < extra else 0)
        parts.append(text[start:end])
        start = end
    return parts


class FakeServer:
    """A scripted HTTP server on 127.0.0.1 that records requests and client disconnects."""

    api_prefix = ""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.disconnects: list[float] = []
        self.errors: list[BaseException] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._disconnected = threading.Condition(self._lock)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The URL to give the SDK as `base_url`."""
        if self._httpd is None:
            raise RuntimeError("fake server: start() it before asking for base_url")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{self.api_prefix}"

    def start(self) -> FakeServer:
        """Bind a free port and serve in a daemon thread."""
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue(self, *replies: Reply) -> None:
        """Script the next replies, answered in order, one per request."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def pending(self) -> int:
        """How many scripted replies no request has consumed yet."""
        with self._lock:
            return len(self._replies)

    def wait_for_disconnect(self, timeout: float) -> float | None:
        """The monotonic time a client hung up on a stream, waiting up to `timeout` seconds."""
        with self._disconnected:
            self._disconnected.wait_for(lambda: bool(self.disconnects), timeout=timeout)
            return self.disconnects[0] if self.disconnects else None

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            if self._replies:
                return self._replies.popleft()
        return Status(500, {"error": {"type": "api_error", "message": "fake server: no scripted reply"}})

    def _record_disconnect(self) -> None:
        with self._disconnected:
            self.disconnects.append(time.monotonic())
            self._disconnected.notify_all()


class _QuietServer(ThreadingHTTPServer):
    """Serves each connection in a daemon thread; a client hanging up between requests is no error."""

    daemon_threads = True

    owner: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Record handler errors instead of printing them; a hang-up is not an error here."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError):
            self.owner.errors.append(error)


def _handler_for(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: request lines and headers must never reach a log."""

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        body = json.loads(raw) if raw else None
        reply = self.owner._next(Recorded("POST", self.path, headers, body))
        if isinstance(reply, Status):
            self._send_status(reply)
        else:
            self._send_stream(reply)

    def _send_status(self, reply: Status) -> None:
        payload = (reply.body if isinstance(reply.body, str) else json.dumps(reply.body)).encode()
        self.send_response(reply.status)
        self.send_header("content-type", reply.content_type)
        self.send_header("content-length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_stream(self, reply: Stream) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        try:
            self._write_frames(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.owner._record_disconnect()
            self.close_connection = True

    def _write_frames(self, reply: Stream) -> None:
        for index, frame in enumerate(reply.frames):
            if reply.drop_after is not None and index == reply.drop_after:
                self._chunk(frame[: len(frame) // 2].encode())
                self._cut()
                return
            if reply.gap_s and self._client_left(reply.gap_s):
                self.owner._record_disconnect()
                self.close_connection = True
                return
            self._chunk(frame.encode())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _client_left(self, wait_s: float) -> bool:
        readable, _, _ = select.select([self.connection], [], [], wait_s)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True
