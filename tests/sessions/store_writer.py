"""A writer process for the store tests: appends events forever, printing each durable seq.

Usage: python store_writer.py DB_PATH_OR_URL. Prints `session <id>` first, then after every
awaited flush the last seq it covers, one per line, until killed.
"""

from __future__ import annotations

import asyncio
import sys

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.store import new_session_id
from tokenmaxx.sessions.store_api import as_target, open_store

EVENTS_PER_FLUSH = 150


async def main(db_path: str) -> None:
    async with await open_store(as_target(db_path)) as store:
        session_id = new_session_id()
        store.append(session_id, ev.SessionStarted(name="writer", cwd="/", version="test"))
        print(f"session {session_id}", flush=True)
        count = 0
        while True:
            count += 1
            event = store.append(session_id, ev.Text(agent=f"agent-{count % 3}", text=f"line {count} " * 8))
            if count % 40 == 0:
                await asyncio.sleep(0)
            if count % EVENTS_PER_FLUSH == 0:
                await store.flush()
                print(event.seq, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
