"""A server-sent events decoder for the raw bytes of a streamed reply, as the SDKs decode them.

The official SDKs build a pydantic model per streamed chunk, which costs ~20 times what
parsing its JSON does; the providers read the raw response instead and decode its events
here into `(event name, data)` pairs, by the rules of the SSE specification that both SDKs
follow: lines end at CR, LF or CRLF (also across reads), a blank line ends an event, `data`
lines are joined with newlines, comments and unknown fields are skipped, and an event with
neither name, data, id nor retry is no event, nor is a last one the body ends without its blank
line. Bytes that are not UTF-8 are replaced, never raised.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SseEvent = tuple["str | None", str]
"""One decoded event: its name (None when the server gave none) and its data."""


@dataclass(slots=True)
class SseDecoder:
    """Turns the bytes of a response, as they arrive, into whole events."""

    _tail: bytes = b""
    _skip_lf: bool = False
    _event: str | None = None
    _data: list[str] = field(default_factory=list)
    _last_id: str | None = None
    _retry: int | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """The events that `chunk` completes, in order; a last event without its blank line is never one."""
        if self._skip_lf and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._skip_lf = chunk.endswith(b"\r")
        if not chunk:
            return []
        buffer = self._tail + chunk if self._tail else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buffer.split(b"\n")
        self._tail = lines.pop()
        return self._events(lines) if lines else []

    def _events(self, lines: list[bytes]) -> list[SseEvent]:
        out: list[SseEvent] = []
        for raw in lines:
            if not raw:
                if self._event or self._data or self._last_id or self._retry is not None:
                    out.append((self._event or None, "\n".join(self._data)))
                    self._event, self._data, self._retry = None, [], None
                continue
            self._take_line(raw.decode("utf-8", "replace"))
        return out

    def _take_line(self, line: str) -> None:
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._last_id = value
        elif name == "retry":
            self._take_retry(value)

    def _take_retry(self, value: str) -> None:
        try:
            self._retry = int(value)
        except ValueError:
            pass
