"""Benchmark of the session store: append rate, append-to-durable latency, bytes per event, seek.

Run: python bench/store_bench.py [--events N]  (default 1,000,000). Four phases on temporary
databases, with realistic payloads (70% text deltas of 30-200 chars, usage, tool calls and
results with a few hundred bytes of output, status changes):

1. store: N events appended as fast as one producer can, snapshot every --snapshot-every;
   events/s from the first append to the last commit, and bytes per event on disk. The
   events come from a pool of 20,000 built beforehand, so the figure is the store's cost.
2. latency: pooled events appended at --rate per second for --latency-seconds; p50/p99/max
   from `append` to the commit that holds the event.
3. live: N fresh events through the live path (`EventLog.emit`: build + append + reduce +
   snapshots), which is what a running fleet pays.
4. replay: in a freshly opened store, the final state (latest snapshot + tail reduce) and a
   seek to the middle (to the seq just before a snapshot, the costliest), both checked
   against the states the live path held.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sqlite3
import statistics
import string
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.sessions.log import EventLog  # noqa: E402
from tokenmaxx.sessions.state import FleetState, reduce_all, state_from_json, state_to_json  # noqa: E402
from tokenmaxx.sessions.store import Store, new_session_id  # noqa: E402

AGENTS = tuple(f"agent-{i:02d}" for i in range(10))
YIELD_EVERY = 100
POOL_SIZE = 20_000
LATENCY_SAMPLE_EVERY = 20
GOALS = {"rate": 50_000, "p99_ms": 150.0, "final_s": 2.0, "seek_ms": 200.0}


class EventSource:
    """A seeded stream of realistic events for a fleet of ten agents (not yet stamped)."""

    def __init__(self, seed: int = 7) -> None:
        self.random = random.Random(seed)
        words = ["".join(self.random.choices(string.ascii_lowercase, k=self.random.randint(2, 9))) for _ in range(400)]
        self.corpus = " ".join(self.random.choices(words, k=20_000))
        self.calls = 0

    def opening(self) -> list[ev.Event]:
        started = ev.SessionStarted(name="store bench", plan="bench.toml", cwd="/bench", version="bench")
        queued = [ev.AgentQueued(agent=a, role="critic", provider="anthropic", model="claude-sonnet-4-6") for a in AGENTS]
        return [started, *queued]

    def pool(self, size: int = POOL_SIZE) -> list[ev.Event]:
        """`size` distinct events to cycle through (`append` stamps a copy, so reuse is safe)."""
        return [self.next() for _ in range(size)]

    def next(self) -> ev.Event:
        agent = AGENTS[self.random.randrange(len(AGENTS))]
        roll = self.random.random()
        if roll < 0.70:
            return ev.Text(agent=agent, text=self._text(30, 200))
        if roll < 0.78:
            return self._usage(agent)
        if roll < 0.84:
            self.calls += 1
            return ev.ToolCall(agent=agent, call_id=f"call_{self.calls}", tool="read_file", args={"path": self._text(10, 40)})
        if roll < 0.90:
            return ev.ToolResult(agent=agent, call_id=f"call_{self.calls}", ok=True, output=self._text(200, 500), duration_s=0.05)
        if roll < 0.92:
            return ev.TurnStarted(agent=agent, turn=self.calls)
        return ev.AgentStatusChanged(agent=agent, status=self.random.choice(("streaming", "tool")))

    def _text(self, low: int, high: int) -> str:
        start = self.random.randrange(len(self.corpus) - high)
        return self.corpus[start : start + self.random.randint(low, high)]

    def _usage(self, agent: str) -> ev.UsageReported:
        tokens = self.random.randint(500, 5000)
        return ev.UsageReported(
            agent=agent,
            provider="anthropic",
            model="claude-sonnet-4-6",
            input_tokens=tokens,
            output_tokens=tokens // 8,
            cache_read_tokens=tokens // 2,
            cost_usd=tokens * 3e-6,
        )


@dataclass
class Figures:
    """What the bench measured, printed at the end."""

    rate: float = 0.0
    bytes_per_event: float = 0.0
    snapshot_bytes_per_event: float = 0.0
    latencies_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)
    latency_rate: float = 0.0
    live_rate: float = 0.0
    final_s: float = 0.0
    seek_s: float = 0.0
    final_tail: int = 0
    seek_tail: int = 0


async def bench_store(path: Path, count: int, snapshot_every: int, figures: Figures) -> None:
    """Phase 1: append `count` events as fast as one producer can."""
    source = EventSource(seed=1)
    pool = source.pool()
    state_json = state_to_json(_representative_state(snapshot_every))
    started = time.perf_counter()
    async with await Store.open(path) as store:
        session_id = new_session_id()
        for event in source.opening():
            store.append(session_id, event)
        for index in range(1, count + 1):
            stamped = store.append(session_id, pool[index % POOL_SIZE])
            if index % snapshot_every == 0:
                store.append_snapshot(session_id, stamped.seq, state_json)
            if index % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        await store.flush()
        figures.rate = count / (time.perf_counter() - started)
    figures.bytes_per_event = path.stat().st_size / count
    figures.snapshot_bytes_per_event = _snapshot_bytes(path) / count


def _representative_state(count: int) -> FleetState:
    """The state after `count` events, to give phase 1's snapshots a realistic size."""
    source = EventSource(seed=99)
    events = [*source.opening(), *(source.next() for _ in range(count))]
    return reduce_all(e.model_copy(update={"session_id": "s", "seq": i}) for i, e in enumerate(events, start=1))


def _snapshot_bytes(path: Path) -> int:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT coalesce(sum(length(state)) + 24 * count(*), 0) FROM snapshots").fetchone()
    db.close()
    return int(row[0])


async def bench_latency(path: Path, rate: int, seconds: float, figures: Figures) -> None:
    """Phase 2: append at a steady `rate` and time each event's way to its commit."""
    pool = EventSource(seed=2).pool()
    latencies: list[float] = []
    waiters: list[asyncio.Task[None]] = []
    async with await Store.open(path) as store:
        session_id = new_session_id()
        started = time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            for _ in range(min(int(elapsed * rate) - sent, YIELD_EVERY)):
                store.append(session_id, pool[sent % POOL_SIZE])
                sent += 1
                if sent % LATENCY_SAMPLE_EVERY == 0:
                    waiters.append(asyncio.create_task(_time_commit(store, time.perf_counter(), latencies)))
            await asyncio.sleep(0 if int(elapsed * rate) > sent else 0.001)
        await store.flush()
        await asyncio.gather(*waiters)
        figures.latency_rate = sent / (time.perf_counter() - started)
    ordered = sorted(latencies)
    figures.latencies_ms = (
        statistics.median(ordered) * 1000,
        ordered[int(len(ordered) * 0.99)] * 1000,
        ordered[-1] * 1000,
    )


async def _time_commit(store: Store, appended: float, latencies: list[float]) -> None:
    await store.wait_committed()
    latencies.append(time.perf_counter() - appended)


async def bench_live(path: Path, count: int, snapshot_every: int, figures: Figures) -> tuple[str, FleetState, FleetState]:
    """Phase 3: the live path, keeping the states at the middle and the end to check replay."""
    source = EventSource(seed=3)
    started = time.perf_counter()
    async with await Store.open(path) as store:
        log = EventLog(store, new_session_id(), snapshot_every=snapshot_every)
        for event in source.opening():
            log.emit(event)
        middle_seq = _worst_seek_target((count + len(source.opening())) // 2, snapshot_every)
        middle = log.state
        for index in range(1, count + 1):
            stamped = log.emit(source.next())
            if stamped.seq == middle_seq:
                middle = log.state
            if index % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        await store.flush()
        figures.live_rate = count / (time.perf_counter() - started)
    return log.session_id, middle, log.state


def _worst_seek_target(middle: int, snapshot_every: int) -> int:
    """The seq at or after `middle` that lies furthest past a snapshot (the costliest seek there)."""
    return middle + (snapshot_every - 1 - middle % snapshot_every)


async def bench_replay(path: Path, session_id: str, middle: FleetState, final: FleetState, figures: Figures) -> None:
    """Phase 4: the final state and a seek to the middle, from a freshly opened store."""
    started = time.perf_counter()
    async with await Store.open(path) as store:
        last = await store.last_seq(session_id)
        state, figures.final_tail = await _state_at(store, session_id, last)
        figures.final_s = time.perf_counter() - started
        _check("final state", state, final)
        started = time.perf_counter()
        state, figures.seek_tail = await _state_at(store, session_id, middle.seq)
        figures.seek_s = time.perf_counter() - started
        _check("state at the middle", state, middle)


async def _state_at(store: Store, session_id: str, seq: int) -> tuple[FleetState, int]:
    """The state after event `seq`: the latest snapshot at or before it, then the tail reduced."""
    snapshot = await store.snapshot_before(session_id, seq)
    base_seq, state = (snapshot[0], state_from_json(snapshot[1])) if snapshot else (0, None)
    tail = await store.events(session_id, from_seq=base_seq + 1, to_seq=seq)
    return reduce_all(tail, state), len(tail)


def _check(what: str, replayed: FleetState, live: FleetState) -> None:
    if state_to_json(replayed) != state_to_json(live):
        raise SystemExit(f"replay is wrong: the {what} differs from the live one")


def report(figures: Figures, count: int, rate: int) -> str:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    p50, p99, worst = figures.latencies_ms
    lines = [
        f"store bench: {count:,} events, {usable} usable cores ({cores} on the machine), SQLite {sqlite3.sqlite_version}",
        _line("append rate, store only", f"{figures.rate:,.0f} events/s", figures.rate >= GOALS["rate"], ">= 50,000/s"),
        _line(
            f"append -> durable at {figures.latency_rate:,.0f}/s",
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms",
            p99 <= GOALS["p99_ms"],
            "p99 <= 150 ms",
        ),
        _line(
            "bytes per event on disk",
            f"{figures.bytes_per_event:.0f} B (snapshots {figures.snapshot_bytes_per_event:.1f} B of it)",
            None,
            "",
        ),
        _line("live path (append + reduce)", f"{figures.live_rate:,.0f} events/s", None, "(reducer included)"),
        _line(
            "final state of the session",
            f"{figures.final_s * 1000:,.0f} ms (snapshot + {figures.final_tail:,} events)",
            figures.final_s < GOALS["final_s"],
            "< 2 s",
        ),
        _line(
            "seek to its middle",
            f"{figures.seek_s * 1000:,.0f} ms (snapshot + {figures.seek_tail:,} events)",
            figures.seek_s * 1000 < GOALS["seek_ms"],
            "< 200 ms",
        ),
    ]
    if rate != GOALS["rate"]:
        lines.append(f"(latency measured at --rate {rate:,}, the goal assumes 50,000/s)")
    return "\n".join(lines)


def _line(label: str, value: str, met: bool | None, goal: str) -> str:
    verdict = "" if met is None else ("  ok" if met else "  MISSED")
    return f"  {label:<34} {value:<44} {goal}{verdict}"


async def run(args: argparse.Namespace) -> Figures:
    figures = Figures()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="tokenmaxx-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    _phase("1/4 store: appending as fast as one producer can")
    await bench_store(folder / "store.db", args.events, args.snapshot_every, figures)
    _phase(f"2/4 latency: appending at {args.rate:,}/s for {args.latency_seconds:g} s")
    await bench_latency(folder / "latency.db", args.rate, args.latency_seconds, figures)
    _phase("3/4 live: append + reduce + snapshots through EventLog")
    session_id, middle, final = await bench_live(folder / "live.db", args.events, args.snapshot_every, figures)
    _phase("4/4 replay: final state and seek from a fresh store")
    await bench_replay(folder / "live.db", session_id, middle, final, figures)
    if not args.dir:
        shutil.rmtree(folder)
    return figures


def _phase(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] phase {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events per session (default 1,000,000)")
    parser.add_argument("--rate", type=int, default=50_000, help="events/s in the latency phase (default 50,000)")
    parser.add_argument("--latency-seconds", type=float, default=5.0, help="length of the latency phase")
    parser.add_argument("--snapshot-every", type=int, default=2_000, help="events between snapshots (default 2,000)")
    parser.add_argument("--dir", help="keep the databases in this folder (default: a temporary one, removed)")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(report(figures, args.events, args.rate))


if __name__ == "__main__":
    main()
