"""The PostgreSQL store beside the SQLite store, on the same machine in the same run.

Usage: python bench/pg_store_bench.py [--events N] [--sessions S] [--per-session E]

Starts a throwaway cluster (fsync on, as a real server), then for each backend:
- append rate: N events appended as a fleet does (bursts, the writer batching on its own),
  until all are durable;
- append-to-durable p99: for each burst, the time from its first append to `wait_committed`;
- stats: `compute_stats` over S sessions of E events each (imported, then timed).
Goals: >= 50,000 events/s, p99 <= 150 ms; stats over 1,000 sessions / 10M events < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sessions import events as ev  # noqa: E402
from sessions.stats import compute_stats  # noqa: E402
from sessions.store_api import StoreTarget, open_store  # noqa: E402
from tests.pg_cluster import ADMIN, Cluster, remove_cluster, start_cluster  # noqa: E402

BURST = 50


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


async def stats_time(target: StoreTarget, sessions: int, per_session: int) -> tuple[float, float]:
    """(seconds to build, seconds for compute_stats) over `sessions` sessions of `per_session` events."""
    built = time.perf_counter()
    async with await open_store(target) as store:
        for number in range(sessions):
            session_id = f"s{number:011d}"
            await store.import_events(_session(session_id, per_session))
        build = time.perf_counter() - built
        started = time.perf_counter()
        stats = await compute_stats(store)
        assert len(stats.total.sessions) == sessions
        return build, time.perf_counter() - started


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
            rate, p99 = asyncio.run(appends(append_target, args.events))
            build, took = asyncio.run(stats_time(stats_target, args.sessions, args.per_session))
            print(
                f"{name:<10} append {rate:>9,.0f} events/s  p99 to durable {p99 * 1000:6.1f} ms  "
                f"stats over {args.sessions:,} sessions / {args.sessions * args.per_session:,} events {took:5.2f} s "
                f"(built in {build:.0f} s)"
            )
    print(f"(cluster database {ADMIN}, fsync on)")


if __name__ == "__main__":
    main()
