"""The direct read of a chunked body against h11's own: same bytes, same end, same errors, same connection reuse.

The fuzz test cuts hypothesis-made chunked bodies (plain chunks, chunk extensions, padded or
malformed sizes, bad footers, trailers, a body cut short) into reads and reads each twice:
with h11 alone, as httpx does, and with `body_reads`' direct reader followed by h11 for what
it hands back. The wire tests read real HTTP/1.1 responses from a local server.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from unittest.mock import patch

import h11
import httpx2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenmaxx.agents.providers import http_body
from tokenmaxx.agents.providers.http_body import body_reads

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

sizes = st.sampled_from(["{:x}", "{:X}", "00{:x}", "{:x};ext=1", "{:x} ", "z{:x}", "{:x}\n"])
footers = st.sampled_from(["\r\n"] * 6 + ["\n", "xx", "\r"])
chunk = st.tuples(st.binary(max_size=40), sizes, footers, st.sampled_from([0] * 8 + [-1, 1]))
endings = st.sampled_from(["0\r\n\r\n", "0\r\nx-trailer: 1\r\n\r\n", "000;e\r\n\r\n", "0\r\n", "", "5\r\nabc"])


def _wire(chunks: list[tuple[bytes, str, str, int]], ending: str) -> bytes:
    parts = [size.format(len(data) + skew).encode() + b"\r\n" + data + footer.encode() for data, size, footer, skew in chunks]
    return b"".join(parts) + ending.encode()


def _reads(wire: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(wire), *(c % (len(wire) + 1) for c in cuts)})
    return [wire[a:b] for a, b in zip(points, points[1:])]


class _Network:
    """A network stream that returns the given reads, then the end of the connection."""

    def __init__(self, reads: list[bytes]) -> None:
        self.reads = list(reads)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.reads.pop(0) if self.reads else b""


class _Connection:
    """What the direct reader uses of httpcore's HTTP/1.1 connection: its h11 state, network stream and read size."""

    READ_NUM_BYTES = 1 << 16

    def __init__(self, reads: list[bytes], with_head: int) -> None:
        self._h11_state = h11.Connection(h11.CLIENT)
        self._h11_state.send(h11.Request(method="POST", target="/", headers=[("host", "x"), ("content-length", "0")]))
        self._h11_state.send(h11.EndOfMessage())
        self._h11_state.receive_data(HEAD + b"".join(reads[:with_head]))
        assert isinstance(self._h11_state.next_event(), h11.Response)
        self._network_stream = _Network(reads[with_head:])


async def _h11_rest(connection: _Connection, out: list[bytes]) -> str:
    """Read the rest of the body as httpcore does, h11 event by event; how it ended.

    An error is told by its type and message up to the bytes it quotes: h11 quotes as many
    bytes of a bad chunk footer as it had received, which depends on where reads were cut.
    """
    state = connection._h11_state
    try:
        while True:
            event = state.next_event()
            if event is h11.NEED_DATA:
                state.receive_data(await connection._network_stream.read(1 << 16))
            elif isinstance(event, h11.Data):
                out.append(bytes(event.data))
            else:
                return f"{type(event).__name__} {state.their_state}"
    except h11.ProtocolError as err:
        return f"{type(err).__name__}: {str(err).split(': ')[0]}"


async def _direct_then_h11(connection: _Connection) -> tuple[bytes, str]:
    out: list[bytes] = []
    async for piece, _ in http_body._direct_reads(connection, None):
        out.append(piece)
    ended = await _h11_rest(connection, out)
    return b"".join(out), ended


async def _h11_alone(connection: _Connection) -> tuple[bytes, str]:
    out: list[bytes] = []
    ended = await _h11_rest(connection, out)
    return b"".join(out), ended


@FUZZ
@given(st.lists(chunk, max_size=8), endings, st.lists(st.integers(0, 2000), max_size=8), st.integers(0, 2), st.booleans())
def test_direct_reads_give_what_h11_gives(
    chunks: list[Any], ending: str, cuts: list[int], with_head: int, small_pending: bool
) -> None:
    reads = _reads(_wire(chunks, ending), cuts)
    with patch.object(http_body, "MAX_PENDING", 16 if small_pending else http_body.MAX_PENDING):
        direct = asyncio.run(_direct_then_h11(_Connection(reads, with_head)))
    assert direct == asyncio.run(_h11_alone(_Connection(reads, with_head)))


def test_plain_chunks_are_decoded_whole_and_the_last_chunk_is_left_to_h11() -> None:
    chunks = http_body.PlainChunks()
    assert chunks.feed(b"3\r\nabc\r\n4\r\nde") == b"abc"
    assert chunks.feed(b"fg\r\n0\r\n\r\n") == b"defg"
    assert (chunks.stopped, chunks.pending) == (True, b"0\r\n\r\n")


async def _serve(body: bytes, handler: Callable[[int], Awaitable[None]]) -> None:
    """Answer every request on a local server with HEAD and `body` in one write, then run `handler`."""
    answering: list[asyncio.Task[None]] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answering.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(HEAD + body)
                await writer.drain()
                if not body.endswith(b"0\r\n\r\n"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        await handler(server.sockets[0].getsockname()[1])
        await asyncio.gather(*answering)


async def _body_bytes(response: Any) -> AsyncIterator[bytes]:
    async for data, _ in body_reads(response):
        yield data


async def _pieces(client: httpx2.AsyncClient, url: str, read: Callable[[Any], Any]) -> tuple[list[bytes], str]:
    async with client.stream("POST", url) as response:
        pieces: list[bytes] = []
        try:
            async for piece in read(response):
                pieces.append(piece)
        except httpx2.HTTPError as err:
            return pieces, f"{type(err).__name__}: {err}"
    return pieces, "end"


async def test_a_body_of_many_chunks_in_one_write_is_read_in_one_piece_and_the_connection_is_reused() -> None:
    body = b"".join(b"%x\r\n%s\r\n" % (len(t), t) for t in (b"event: a\n", b"data: 1\n\n") * 20) + b"0\r\n\r\n"

    async def check(port: int) -> None:
        async with httpx2.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/"
            first, ended = await _pieces(client, url, _body_bytes)
            again, _ = await _pieces(client, url, _body_bytes)
            assert (len(first), b"".join(first), ended) == (1, b"event: a\ndata: 1\n\n" * 20, "end")
            assert again == first
            assert len(client._transport._pool.connections) == 1

    await _serve(body, check)


async def test_a_body_cut_mid_chunk_fails_as_httpx_fails_it() -> None:
    body = b"5\r\nhello\r\n9\r\nwor"

    async def check(port: int) -> None:
        async with httpx2.AsyncClient() as client:
            url = f"http://127.0.0.1:{port}/"
            direct = await _pieces(client, url, _body_bytes)
            plain = await _pieces(client, url, lambda response: response.aiter_bytes())
            assert b"".join(direct[0]) == b"".join(plain[0]) == b"hellowor"
            assert direct[1] == plain[1] and "incomplete chunked read" in direct[1]

    await _serve(body, check)
