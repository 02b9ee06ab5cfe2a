"""The body of a streamed HTTP/1.1 reply, read a network read at a time rather than a chunk at a time.

httpx reads a chunked body through h11, which hands it over one chunk per event, and each
chunk then climbs four generator layers: for a stream of one small chunk per token that is
most of what a token costs. `body_reads` reads the connection's network stream itself and
decodes the plain chunks it finds there (`hex size CRLF data CRLF`). Anything else (the last
chunk and its trailers, a chunk extension, a malformed or oversized chunk, the connection's
end) is handed back to h11 undecoded, at a chunk boundary, and httpx reads the rest of the
body as it always does: its errors, events and connection reuse are the same. A response
this cannot read so (another transport, HTTP/2, a content encoding) is read by httpx alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

MAX_PENDING = 1 << 16
"""An unfinished chunk larger than this is handed back, so that h11 streams it as it arrives."""
_HEX = b"0123456789abcdefABCDEF"
_MAX_HEADER = 10
"""The longest plain chunk header: eight hex digits and CRLF."""


@dataclass(slots=True)
class PlainChunks:
    """Decodes the plain chunks that start a chunked body, up to the first one that is not plain."""

    pending: bytes = b""
    stopped: bool = False

    def feed(self, data: bytes) -> bytes:
        """The data of the whole plain chunks that `data` completes; the rest stays in `pending`."""
        buffer = self.pending + data if self.pending else data
        out: list[bytes] = []
        at, end = 0, len(buffer)
        while at < end and not self.stopped:
            size_end = buffer.find(b"\r\n", at, at + _MAX_HEADER)
            if size_end < 0:
                self.stopped = end - at >= _MAX_HEADER
                break
            data_end = size_end + 2 + self._size(buffer[at:size_end])
            if self.stopped or data_end + 2 > end:
                self.stopped = self.stopped or data_end - at > MAX_PENDING
                break
            if buffer[data_end : data_end + 2] != b"\r\n":
                self.stopped = True
                break
            out.append(buffer[size_end + 2 : data_end])
            at = data_end + 2
        self.pending = buffer[at:]
        return out[0] if len(out) == 1 else b"".join(out)

    def _size(self, header: bytes) -> int:
        """The size a plain chunk header gives; a last chunk's or one that is not plain stops the decoding."""
        if not header or header.strip(_HEX):
            self.stopped = True
            return 0
        size = int(header, 16)
        self.stopped = size == 0
        return size


BodyPiece = tuple[bytes, bool]
"""Bytes of a body, and whether they are all that the connection had received (a network read that did not fill up)."""


async def body_reads(response: Any) -> AsyncIterator[BodyPiece]:
    """The bytes of `response`'s body as they arrive, a network read's worth at a time where it can."""
    source = _direct_source(response)
    if source is not None:
        connection, timeout = source
        async for piece in _direct_reads(connection, timeout):
            yield piece
    async for data in response.aiter_bytes():
        yield data, False


async def _direct_reads(connection: Any, timeout: float | None) -> AsyncIterator[BodyPiece]:
    """The plain chunks read straight off the connection; what is left goes back to its h11 state."""
    state = connection._h11_state
    buffered = state._receive_buffer.maybe_extract_at_most(len(state._receive_buffer))
    chunks = PlainChunks(bytes(buffered or b""))
    data = b"-"
    try:
        if piece := chunks.feed(b""):
            yield piece, False
        while not chunks.stopped:
            data = await connection._network_stream.read(connection.READ_NUM_BYTES, timeout=timeout)
            if not data:
                break
            if piece := chunks.feed(data):
                yield piece, len(data) < connection.READ_NUM_BYTES
    finally:
        if chunks.pending:
            state.receive_data(chunks.pending)
        if not data:
            state.receive_data(b"")


def _direct_source(response: Any) -> tuple[Any, float | None] | None:
    """The HTTP/1.1 connection whose chunked body `response` has not begun to read, and its read timeout."""
    try:
        import h11
        from httpcore2 import AsyncHTTP11Connection
        from httpcore2._async.http11 import HTTP11ConnectionByteStream
    except ImportError:
        return None
    stream = getattr(getattr(getattr(response.stream, "_stream", None), "_httpcore_stream", None), "_stream", None)
    if not isinstance(stream, HTTP11ConnectionByteStream) or stream._closed or response.is_stream_consumed:
        return None
    connection = stream._connection
    if not isinstance(connection, AsyncHTTP11Connection) or response.headers.get("content-encoding", "identity") != "identity":
        return None
    state = connection._h11_state
    if state.their_state is not h11.SEND_BODY or state._receive_buffer_closed or not _fresh_chunked(state._reader):
        return None
    return connection, stream._request.extensions.get("timeout", {}).get("read")


def _fresh_chunked(reader: object) -> bool:
    """Whether `reader` is h11's chunked body reader, before it has read anything."""
    from h11._readers import ChunkedReader

    if not isinstance(reader, ChunkedReader):
        return False
    return reader._bytes_in_chunk == 0 and not reader._bytes_to_discard and not reader._reading_trailer
