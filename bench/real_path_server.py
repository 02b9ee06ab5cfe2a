"""A fast fake model server for the real-path bench: OpenAI Chat Completions and Anthropic Messages, streamed.

Run: python bench/real_path_server.py [--rate R] [--tokens K]; it prints `port N` once it listens.
Every POST to `/v1/chat/completions` or `/v1/messages` is answered with about K one-token chunks
(from 3K/4 to 5K/4, the same sequence of lengths every run, so replies do not all end together),
paced on the server's clock (chunk i is due i/R seconds after the request arrived, so a client
that reads late finds chunks waiting, as with a real server), then the usage and the end of
the reply. Frames are encoded once at start-up and one ticker writes every stream's due
frames, so the server costs little next to the clients it feeds. HTTP/1.1 keep-alive, chunked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from dataclasses import dataclass

TOKEN = " tok"
TICK_S = 0.02
HEADERS = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
END = b"0\r\n\r\n"


def _chunked(text: str) -> bytes:
    data = text.encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


def _sse(data: object, event: str | None = None) -> bytes:
    named = f"event: {event}\n" if event else ""
    return _chunked(f"{named}data: {json.dumps(data, separators=(',', ':'))}\n\n")


def openai_frames(tokens: int) -> tuple[list[bytes], bytes, list[bytes]]:
    """The head, the one-token frame and the tail of a Chat Completions stream."""
    base = {"id": "bench", "object": "chat.completion.chunk", "created": 0, "model": "bench-model"}
    token = _sse({**base, "choices": [{"index": 0, "delta": {"content": TOKEN}, "finish_reason": None}]})
    stop = _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    usage = {"prompt_tokens": 40, "completion_tokens": tokens, "total_tokens": 40 + tokens}
    tail = [stop, _sse({**base, "choices": [], "usage": usage}), _chunked("data: [DONE]\n\n"), END]
    return [], token, tail


def anthropic_frames(tokens: int) -> tuple[list[bytes], bytes, list[bytes]]:
    """The head, the one-token frame and the tail of a Messages stream."""
    message = {"id": "bench", "type": "message", "role": "assistant", "model": "bench-model", "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 40, "output_tokens": 1}}
    head = [
        _sse({"type": "message_start", "message": message}, "message_start"),
        _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}, "content_block_start"),
    ]
    token = _sse({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": TOKEN}}, "content_block_delta")
    tail = [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
              "usage": {"output_tokens": tokens}}, "message_delta"),
        _sse({"type": "message_stop"}, "message_stop"),
        END,
    ]
    return head, token, tail


@dataclass
class Reply:
    """One stream being written: its connection, when it began, and how many token frames are out."""

    connection: Connection
    frames: tuple[list[bytes], bytes, list[bytes]]
    started: float
    tokens: int
    sent: int = 0


class Server:
    """The replies in flight, and the ticker that writes what each has due."""

    def __init__(self, rate: float, tokens: int) -> None:
        self.rate, self.tokens = rate, tokens
        self.frames = {b"/v1/chat/completions": openai_frames(tokens), b"/v1/messages": anthropic_frames(tokens)}
        self.replies: list[Reply] = []
        self.lengths = random.Random(15)

    def begin(self, connection: Connection, path: bytes) -> None:
        frames = self.frames.get(path.split(b"?")[0])
        if frames is None:
            connection.transport.write(NOT_FOUND)
            return
        connection.transport.write(HEADERS + b"".join(frames[0]))
        tokens = self.lengths.randint(self.tokens * 3 // 4, self.tokens * 5 // 4)
        self.replies.append(Reply(connection, frames, time.monotonic(), tokens))

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            self.replies = [reply for reply in self.replies if self._write_due(reply, now)]

    def _write_due(self, reply: Reply, now: float) -> bool:
        """Write the reply's due frames; False once it is complete or its client left."""
        if reply.connection.transport.is_closing():
            return False
        due = min(reply.tokens, int((now - reply.started) * self.rate) + 1)
        _, token, tail = reply.frames
        out = token * (due - reply.sent)
        reply.sent = due
        if due == reply.tokens:
            out += b"".join(tail)
        if out:
            reply.connection.transport.write(out)
        return due < reply.tokens


class Connection(asyncio.Protocol):
    """One client connection: reads requests (headers and a content-length body) and starts their replies."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end]
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.server.begin(self, head.split(b" ", 2)[1])


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


async def serve(rate: float, tokens: int, port: int) -> None:
    server = Server(rate, tokens)
    listening = await asyncio.get_running_loop().create_server(lambda: Connection(server), "127.0.0.1", port, backlog=2048)
    print(f"port {listening.sockets[0].getsockname()[1]}", flush=True)
    ticker = asyncio.create_task(server.tick(), name="ticker")
    try:
        await listening.serve_forever()
    finally:
        ticker.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="token chunks per second per stream")
    parser.add_argument("--tokens", type=int, default=200, help="token chunks per reply")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args.rate, args.tokens, args.port))


if __name__ == "__main__":
    main()
