"""A JSON-RPC client for `codex app-server`: one JSON object per line over the CLI's stdin/stdout.

The CLI runs in its own process group, so `kill` ends it and every command it started. Replies
to our requests resolve Futures; notifications go to `notifications`; the server's own
requests (approvals) go to `on_request`, whose answer is sent back. A line longer than
MAX_LINE is dropped unread, and when the CLI exits every waiter gets a `CodexExited` that
carries the tail of its stderr.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from itertools import count
from pathlib import Path
from typing import Any

from tokenmaxx.agents.tasks import cancel_and_drain
from tokenmaxx.agents.tools.process import group_gone, signal_group

MAX_LINE = 4 * 1024 * 1024
READ_CHUNK = 64 * 1024
STDERR_LINES = 40
REQUEST_TIMEOUT_S = 30.0
STDERR_WAIT_S = 1.0
KILL_GRACE_S = 0.3
CLIENT_INFO = {"name": "tokenmaxx", "version": "0.1.0"}

Json = dict[str, Any]
RequestHandler = Callable[[str, Json], Awaitable[Json]]


class CodexExited(Exception):
    """The Codex CLI ended (or was never started); the message says how and what it last printed."""


class RpcError(Exception):
    """Codex answered a request with a JSON-RPC error."""

    def __init__(self, method: str, error: Json) -> None:
        super().__init__(f"codex {method}: {error.get('message', error)}")
        self.error = error


class LineReader:
    """Splits a byte stream into lines of at most `limit` bytes, dropping the rest of any longer line."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self.dropped = 0
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """The whole lines `chunk` completes."""
        *complete, tail = chunk.split(b"\n")
        lines = [line for piece in complete if (line := self._end_line(piece)) is not None]
        self._append(tail)
        return lines

    def _end_line(self, piece: bytes) -> bytes | None:
        self._append(piece)
        line, skipped = bytes(self._buffer), self._skipping
        self._buffer.clear()
        self._skipping = False
        return None if skipped else line

    def _append(self, piece: bytes) -> None:
        if self._skipping:
            return
        if len(self._buffer) + len(piece) > self.limit:
            self._buffer.clear()
            self._skipping = True
            self.dropped += 1
            return
        self._buffer.extend(piece)


class CodexRpc:
    """One running `codex app-server` and the JSON-RPC conversation with it."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        on_request: RequestHandler,
        name: str = "codex",
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.cwd = cwd
        self.name = name
        self.notifications: asyncio.Queue[Json | CodexExited] = asyncio.Queue()
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)
        self.process: asyncio.subprocess.Process | None = None
        self.exited: CodexExited | None = None
        self._on_request = on_request
        self._ids = count(1)
        self._waiting: dict[int, tuple[str, asyncio.Future[Json]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._reader = LineReader()
        self._stderr_done: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def start(self) -> None:
        """Spawn the CLI in its own process group and say hello (`initialize`, `initialized`)."""
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        except OSError as error:
            raise CodexExited(f"could not start {self.argv[0]}: {error.strerror or error}") from None
        self._stderr_done = self._spawn(self._read_stderr(), "stderr")
        self._spawn(self._read_stdout(), "stdout")
        await self.request("initialize", {"clientInfo": CLIENT_INFO})
        await self.notify("initialized")

    async def request(self, method: str, params: Json | None = None, *, timeout_s: float = REQUEST_TIMEOUT_S) -> Json:
        """Send a request and wait for its result."""
        if self.exited is not None:
            raise self.exited
        request_id = next(self._ids)
        answer: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = (method, answer)
        try:
            await self._send({"id": request_id, "method": method, "params": params or {}})
            async with asyncio.timeout(timeout_s):
                return await answer
        except TimeoutError:
            raise CodexExited(f"codex did not answer {method} within {timeout_s:.0f}s{self._stderr_note()}") from None
        finally:
            self._waiting.pop(request_id, None)

    async def notify(self, method: str, params: Json | None = None) -> None:
        """Send a notification (no answer expected)."""
        message: Json = {"method": method}
        if params is not None:
            message["params"] = params
        await self._send(message)

    async def kill(self) -> None:
        """End the CLI's whole process group: SIGTERM, SIGKILL after a short grace, then reap it."""
        process = self.process
        if process is None:
            return
        signal_group(process.pid, signal.SIGTERM)
        if not await group_gone(process.pid, KILL_GRACE_S):
            signal_group(process.pid, signal.SIGKILL)
            await group_gone(process.pid, KILL_GRACE_S)
        await process.wait()

    async def aclose(self) -> None:
        """Kill the CLI and drain every task this client started."""
        await self.kill()
        await cancel_and_drain(*self._tasks)
        self._gone("codex was closed")

    async def _send(self, message: Json) -> None:
        process = self.process
        if process is None or process.stdin is None or self.exited is not None:
            raise self.exited or CodexExited("codex is not running")
        try:
            process.stdin.write(json.dumps(message).encode() + b"\n")
            await process.stdin.drain()
        except (ConnectionError, RuntimeError):
            raise self.exited or CodexExited(f"codex stopped reading its input{self._stderr_note()}") from None

    def _spawn(self, work: Awaitable[None], what: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=f"{self.name}:{what}")  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _read_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        stdout = self.process.stdout
        while chunk := await stdout.read(READ_CHUNK):
            for line in self._reader.feed(chunk):
                self._dispatch(line)
        returncode = await self.process.wait()
        if self._stderr_done is not None:
            await asyncio.wait([self._stderr_done], timeout=STDERR_WAIT_S)
        self._gone(f"codex exited with code {returncode}{self._stderr_note()}")

    async def _read_stderr(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        reader = LineReader(limit=4096)
        while chunk := await self.process.stderr.read(READ_CHUNK):
            for line in reader.feed(chunk):
                self.stderr_tail.append(line.decode("utf-8", "replace")[:500])

    def _dispatch(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if "method" in message and "id" in message:
            self._spawn(self._answer(message["id"], str(message["method"]), message.get("params") or {}), "request")
        elif "method" in message:
            self.notifications.put_nowait(message)
        elif isinstance(message.get("id"), int):
            self._resolve(message)

    def _resolve(self, message: Json) -> None:
        waiting = self._waiting.get(message["id"])
        if waiting is None or waiting[1].done():
            return
        method, answer = waiting
        if "error" in message:
            answer.set_exception(RpcError(method, message["error"] if isinstance(message["error"], dict) else {}))
        else:
            answer.set_result(message.get("result") if isinstance(message.get("result"), dict) else {})

    async def _answer(self, request_id: Any, method: str, params: Json) -> None:
        try:
            result = await self._on_request(method, params)
            reply: Json = {"id": request_id, "result": result}
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the CLI hears that the request failed instead of waiting forever
            reply = {"id": request_id, "error": {"code": -32603, "message": str(error)}}
        try:
            await self._send(reply)
        except CodexExited:
            pass

    def _gone(self, why: str) -> None:
        if self.exited is not None:
            return
        self.exited = CodexExited(why)
        for _, answer in self._waiting.values():
            if not answer.done():
                answer.set_exception(self.exited)
        self.notifications.put_nowait(self.exited)

    def _stderr_note(self) -> str:
        tail = [line for line in self.stderr_tail if line.strip()][-3:]
        return (": " + " | ".join(tail)) if tail else ""

