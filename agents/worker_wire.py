"""The pipe between a fleet and its worker processes: length-prefixed pickles over a Unix socket pair.

Both ends are tokenmaxx: the fleet makes the socket pair and hands one end to the worker it
starts, so nothing else can write to it, and pickle carries the same event models and runner
setups the fleet uses in-process at a few µs each (a JSON round trip through pydantic costs
~20 µs an event, the fleet's ceiling). A frame is a 4-byte big-endian length, then a pickled tuple
whose first item names the message.

Fleet to worker:  hello(plan) plan(plan) open(rid, setup, flush_s) start/note/restore/turn_no(rid, ...)
                  turn(rid, flush_s) cancel(rid) release(rid) close(rid) exit()
                  reply(qid, value) fail(qid, kind, text)   kind: "store" (the store failed) or "error"
Worker to fleet:  events([event, ...]) ask(qid, method, agent, args) abandon(qid) slot_release(provider)
                  turn_end(rid, how, value)   how: "done" (a TurnResult), "cancelled", "store" or "error" (a traceback)
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from typing import Any

HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 30
"""A frame's largest size: a restore of a long conversation is the biggest message, far below this."""


class WireClosed(Exception):
    """The other end hung up, or sent what is not a frame."""


def frame(message: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> tuple[Any, ...]:
    """The next message; WireClosed at the end of the stream or on a frame that cannot be read."""
    try:
        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        if size > MAX_FRAME:
            raise WireClosed(f"a frame of {size} bytes")
        message = pickle.loads(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionError) as error:
        raise WireClosed(str(error) or type(error).__name__) from None
    if not isinstance(message, tuple) or not message:
        raise WireClosed(f"not a message: {type(message).__name__}")
    return message
