"""The PostgreSQL store beside the SQLite store, on the same machine in the same run.

Usage: python bench/pg_store_bench.py [--events N] [--sessions S] [--per-session E] [--backends sqlite,postgresql]

Starts a throwaway cluster (fsync on, as a real server), then for each backend:
- append rate: N events appended as a fleet does (bursts, the writer batching on its own),
  until all are durable;
- append-to-durable p99: for each burst, the time from its first append to `wait_committed`;
- stats: `compute_stats` over S sessions of E events each, timed. One session is imported through
  the store; the others are cloned from it in SQL (`INSERT ... SELECT` over `generate_series` or a
  recursive CTE, a chunk of sessions per transaction), then `ANALYZE`d (PostgreSQL: `VACUUM ANALYZE`,
  as its autovacuum leaves a long-lived database). Timed twice: the first read, then again.
Goals: >= 50,000 events/s, p99 <= 150 ms; stats over 1,000 sessions / 10M events < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.sessions.stats import compute_stats  # noqa: E402
from tokenmaxx.sessions.store_api import StoreTarget, is_url, open_store  # noqa: E402
from tests.pg_cluster import ADMIN, Cluster, remove_cluster, start_cluster  # noqa: E402

BURST = 50
CLONE_CHUNK = 50
TABLES = {"events": "session_id", "snapshots": "session_id", "agents": "session_id", "reviews": "session_id", "sessions": "id"}


async def appends(target: StoreTarget, total: int) -> tuple[float, float]:
    """(events per second until all durable, p99 seconds from a burst's first append to durable)."""
    latencies: list[float] = []
    async with await open_store(target) as store:
        session_id = "bench0000001"
        store.append(session_id, ev.SessionStarted(name="bench", cwd="/", version="b"))
        await store.flush()
        started = time.perf_counter()
        pending: list[asyncio.Task[None]] = []
        for burst in range(total // BURST):
            at = time.perf_counter()
            for i in range(BURST):
                store.append(session_id, ev.Text(agent=f"a{i % 5}", text=f"burst {burst} line {i} " * 4))
            pending.append(asyncio.create_task(_durable(store, at, latencies), name=f"durable:{burst}"))
            await asyncio.sleep(0)
        await store.flush()
        rate = total / (time.perf_counter() - started)
        await asyncio.gather(*pending)
    return rate, statistics.quantiles(latencies, n=100)[98]


async def _durable(store: object, at: float, latencies: list[float]) -> None:
    await store.wait_committed()  # type: ignore[attr-defined]
    latencies.append(time.perf_counter() - at)


async def stats_time(target: StoreTarget, sessions: int, per_session: int) -> tuple[float, list[float]]:
    """(seconds to build, seconds for compute_stats, twice) over `sessions` sessions of `per_session` events."""
    built = time.perf_counter()
    async with await open_store(target) as store:
        await store.import_events(_session(_session_id(0), per_session))
    await asyncio.to_thread(clone_sessions, target, sessions)
    build = time.perf_counter() - built
    took = []
    async with await open_store(target) as store:
        for _ in range(2):
            started = time.perf_counter()
            stats = await compute_stats(store)
            took.append(time.perf_counter() - started)
            assert len(stats.total.sessions) == sessions
    return build, took


def _session_id(number: int) -> str:
    return f"s{number:011d}"


def clone_sessions(target: StoreTarget, sessions: int) -> None:
    """Copy session 0's rows in every table to sessions 1..sessions-1, a chunk of sessions per transaction."""
    cloner: _Cloner = _PgCloner(str(target)) if is_url(target) else _SqliteCloner(Path(target))
    statements = [cloner.clone_sql(table, key) for table, key in TABLES.items()]
    for first in range(1, sessions, CLONE_CHUNK):
        last = min(first + CLONE_CHUNK, sessions) - 1
        cloner.run(statements, (first, last, _session_id(0)))
        print(f"  cloned {last + 1:,} of {sessions:,} sessions", file=sys.stderr, flush=True)
    cloner.analyze()


class _Cloner:
    """What cloning asks of a backend: its tables' columns, one transaction of statements, ANALYZE."""

    new_id = ""
    numbers = ""
    mark = ""

    def columns(self, table: str) -> list[str]:
        raise NotImplementedError

    def run(self, statements: list[str], params: tuple[object, ...]) -> None:
        raise NotImplementedError

    def analyze(self) -> None:
        raise NotImplementedError

    def clone_sql(self, table: str, key: str) -> str:
        """INSERT ... SELECT of session `mark`'s rows in `table`, once per number in the range."""
        columns = self.columns(table)
        chosen = ", ".join(self.new_id if column == key else column for column in columns)
        return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {chosen} FROM {table}, {self.numbers} WHERE {key} = {self.mark}"


class _PgCloner(_Cloner):
    new_id = "'s' || lpad(n::text, 11, '0')"
    numbers = "generate_series(%s::int, %s::int) AS g(n)"
    mark = "%s"

    def __init__(self, url: str) -> None:
        self.url = url

    def columns(self, table: str) -> list[str]:
        with psycopg.connect(self.url) as conn:
            found = conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
                (table,),
            )
            return [str(row[0]) for row in found.fetchall()]

    def run(self, statements: list[str], params: tuple[object, ...]) -> None:
        with psycopg.connect(self.url) as conn:
            for statement in statements:
                conn.execute(statement, params)  # type: ignore[arg-type]

    def analyze(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")


class _SqliteCloner(_Cloner):
    new_id = "printf('s%011d', n)"
    numbers = "(WITH RECURSIVE r(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM r WHERE n < ?) SELECT n FROM r)"
    mark = "?"

    def __init__(self, path: Path) -> None:
        self.path = path

    def columns(self, table: str) -> list[str]:
        with closing(sqlite3.connect(self.path)) as conn:
            return [str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")]

    def run(self, statements: list[str], params: tuple[object, ...]) -> None:
        with closing(sqlite3.connect(self.path, timeout=60)) as conn, conn:
            for statement in statements:
                conn.execute(statement, params)

    def analyze(self) -> None:
        with closing(sqlite3.connect(self.path)) as conn:
            conn.execute("ANALYZE")


def _session(session_id: str, count: int) -> list[ev.Event]:
    events: list[ev.Event] = [
        ev.SessionStarted(name="bench", cwd="/", version="b"),
        ev.AgentQueued(agent="a", role="coder", provider="sim", model="m"),
        ev.AgentStatusChanged(agent="a", status="starting"),
    ]
    while len(events) < count - 1:
        events.append(ev.UsageReported(agent="a", provider="sim", model="m", input_tokens=100, output_tokens=10, cost_usd=0.001) if len(events) % 10 == 0 else ev.Text(agent="a", text="work " * 8))
    events.append(ev.AgentFinished(agent="a", outcome="done"))
    base = time.time() - 3600
    return [e.model_copy(update={"session_id": session_id, "seq": i + 1, "ts": base + i}) for i, e in enumerate(events)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--per-session", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql", help="which to run, comma-separated")
    args = parser.parse_args()
    cluster = start_cluster(fsync=True)
    try:
        _run(cluster, args)
    finally:
        remove_cluster(cluster)


def _run(cluster: Cluster, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as folder:
        targets: dict[str, tuple[StoreTarget, StoreTarget]] = {
            "sqlite": (Path(folder) / "append.db", Path(folder) / "stats.db"),
            "postgresql": (cluster.fresh_url(), cluster.fresh_url()),
        }
        for name, (append_target, stats_target) in targets.items():
            if name not in args.backends.split(","):
                continue
            rate, p99 = asyncio.run(appends(append_target, args.events))
            build, took = asyncio.run(stats_time(stats_target, args.sessions, args.per_session))
            print(
                f"{name:<10} append {rate:>9,.0f} events/s  p99 to durable {p99 * 1000:6.1f} ms  "
                f"stats over {args.sessions:,} sessions / {args.sessions * args.per_session:,} events "
                f"{took[0]:5.2f} s, again {took[1]:5.2f} s "
                f"(built in {build:.0f} s)"
            )
    print(f"(cluster database {ADMIN}, fsync on)")


if __name__ == "__main__":
    main()
