"""Benchmark of replay on a 1,000,000-event session: first frame, seeks anywhere, playback, peak memory.

Run: python bench/replay_bench.py [--events N] [--db PATH]. Without --db the session is built in
a temporary database and removed afterwards; with --db an existing database is reused (its
largest session), else built there and kept. The session is written through the real Store and
EventLog (snapshots every 2,000 events) with the store bench's payloads plus a marker (flag,
intervention, artifact, review or provider error) about every 700 events.

The figures are measured in a fresh child process, so its peak memory (ru_maxrss) is replay's
alone: time to first frame (open the store, the session at its start as `replay` opens it, its markers), 50
seeks to random positions, one seek checked against the live reducer run from two snapshots
back, and a second of playback at 1000x.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from store_bench import AGENTS, YIELD_EVERY, EventSource  # noqa: E402

from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.sessions.log import EventLog  # noqa: E402
from tokenmaxx.sessions.player import Player  # noqa: E402
from tokenmaxx.sessions.replay import SNAPSHOT_EVERY, Replay  # noqa: E402
from tokenmaxx.sessions.state import reduce_all, state_from_json, state_to_json  # noqa: E402
from tokenmaxx.sessions.store import Store, new_session_id  # noqa: E402

MARKER_SHARE = 1 / 700
START_TS = 1_790_000_000.0
EVENTS_PER_S = 50
IDLE_SHARE = 1 / 20_000
SEEKS = 50
TICK_S = 1 / 30
GOALS = {"first_frame_s": 1.0, "seek_ms": 200.0, "memory_mb": 300.0}


class MarkedSource(EventSource):
    """The store bench's events with the occasional marker, stamped with a session clock of ~50 events/s."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.clock = START_TS

    def timed(self, event: ev.Event) -> ev.Event:
        """The event at the next tick of the session clock, now and then after an idle minute or more."""
        self.clock += self.random.expovariate(EVENTS_PER_S)
        if self.random.random() < IDLE_SHARE:
            self.clock += self.random.uniform(60, 600)
        return event.model_copy(update={"ts": self.clock})

    def next(self) -> ev.Event:
        return self.timed(self._plain() if self.random.random() >= MARKER_SHARE else self._marker())

    def _plain(self) -> ev.Event:
        return super().next()

    def _marker(self) -> ev.Event:
        agent = AGENTS[self.random.randrange(len(AGENTS))]
        path = f"{agent}/out-{self.calls}.md"
        return self.random.choice(
            (
                ev.AgentFlagged(agent=agent, flag="looping", detail="read_file called 3 times with the same arguments"),
                ev.SupervisorAction(agent=agent, action="reprompt", text="You have gone quiet. Carry on.", by="watchdog"),
                ev.Artifact(agent=agent, path=path, bytes=self.random.randint(200, 20_000), sha256="ab" * 32),
                ev.ArtifactReview(agent=agent, path=path, verdict=self.random.choice(("accepted", "rejected"))),
                ev.ProviderError(agent=agent, error_kind="rate_limit", message="429 slow down", retry_in_s=2.0),
            )
        )

    def closing(self) -> list[ev.Event]:
        finished = [ev.AgentFinished(agent=a, outcome="done", summary="done") for a in AGENTS]
        return [*finished, ev.SessionEnded(status="done")]


async def build(path: Path, count: int) -> str:
    """Write a `count`-event session through Store and EventLog; returns its id."""
    source = MarkedSource(seed=11)
    async with await Store.open(path) as store:
        log = EventLog(store, new_session_id(), snapshot_every=SNAPSHOT_EVERY)
        opening, closing = source.opening(), source.closing()
        for event in opening:
            log.emit(source.timed(event))
        for index in range(count - len(opening) - len(closing)):
            log.emit(source.next())
            if index % YIELD_EVERY == 0:
                await asyncio.sleep(0)
        for event in closing:
            log.emit(source.timed(event))
        await store.flush()
    return log.session_id


def largest_session(path: Path) -> tuple[str, int] | None:
    if not path.exists():
        return None
    with sqlite3.connect(path) as db:
        try:
            row = db.execute("SELECT id, last_seq FROM sessions ORDER BY last_seq DESC LIMIT 1").fetchone()
        except sqlite3.DatabaseError:
            row = None
    db.close()
    return (str(row[0]), int(row[1])) if row else None


async def measure(path: Path, session_id: str) -> list[str]:
    """Every figure, as report lines (run in a fresh process)."""
    started = time.perf_counter()
    async with await Store.open(path) as store:
        player = await Player.open(store, session_id)
        first_frame = time.perf_counter() - started
        replay = player.replay
        seeks = await _seeks(replay)
        checked = await _check_against_reducer(replay)
        played, tick_ms = await _play(player)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    p50, p99, worst = seeks
    return [
        _line(
            "first frame (open + first state + markers)",
            f"{first_frame * 1000:,.0f} ms ({replay.last_seq:,} events, {len(player.markers):,} markers)",
            first_frame < GOALS["first_frame_s"],
            "< 1 s",
        ),
        _line(
            f"seek to {SEEKS} random positions",
            f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms",
            worst < GOALS["seek_ms"],
            "< 200 ms",
        ),
        _line("seek checked against the reducer", checked, None, ""),
        _line("play at 1000x for 1 s", f"{played:,} events played, {tick_ms:.1f} ms per tick (30 ticks/s)", None, ""),
        _line("peak memory (ru_maxrss)", f"{peak_mb:,.0f} MB", peak_mb < GOALS["memory_mb"], "< 300 MB"),
    ]


async def _seeks(replay: Replay) -> tuple[float, float, float]:
    chooser = random.Random(5)
    timings = []
    for _ in range(SEEKS):
        target = chooser.randint(1, replay.last_seq)
        started = time.perf_counter()
        state = await replay.state_at(target)
        timings.append((time.perf_counter() - started) * 1000)
        assert state.seq == target
    ordered = sorted(timings)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], ordered[-1]


async def _check_against_reducer(replay: Replay) -> str:
    """The engine's state at a seq just before a snapshot equals the reducer's run from two snapshots back."""
    target = (replay.last_seq // 2 // SNAPSHOT_EVERY) * SNAPSHOT_EVERY - 1
    found = await replay.store.snapshot_before(replay.session_id, target - SNAPSHOT_EVERY)
    base_seq, base = (found[0], state_from_json(found[1])) if found else (0, None)
    expected = reduce_all(await replay.events_between(base_seq + 1, target), base)
    if state_to_json(await replay.state_at(target)) != state_to_json(expected):
        raise SystemExit(f"replay is wrong: the state at {target} differs from the reducer's")
    return f"equal at seq {target:,} ({target - base_seq:,} events reduced from seq {base_seq:,})"


async def _play(player: Player) -> tuple[int, float]:
    """Ticks of the real elapsed time, 30 a second, for one second from the start at 1000x."""
    cursor = player.cursor.to_start()
    for _ in range(9):
        cursor = cursor.faster()
    await player.move(cursor.play())
    started = last = time.perf_counter()
    ticks, busy = 0, 0.0
    while (now := time.perf_counter()) - started < 1.0:
        await player.tick(now - last)
        last, ticks = now, ticks + 1
        busy += time.perf_counter() - now
        await asyncio.sleep(max(0.0, TICK_S - (time.perf_counter() - now)))
    return player.cursor.seq, busy * 1000 / ticks


def _line(label: str, value: str, met: bool | None, goal: str) -> str:
    verdict = "" if met is None else ("  ok" if met else "  MISSED")
    return f"  {label:<42} {value:<54} {goal}{verdict}"


def in_child(*args: str) -> str:
    """Run this script again with `args`: building and measuring each get a fresh process and peak memory."""
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"the child process {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout.rstrip()


def _note(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the session (default 1,000,000)")
    parser.add_argument("--db", type=Path, help="reuse (or build and keep) the session in this database")
    parser.add_argument("--build", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", metavar="SESSION", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(asyncio.run(build(args.db, args.events)))
        return
    if args.measure:
        print("\n".join(asyncio.run(measure(args.db, args.measure))))
        return
    folder = None if args.db else Path(tempfile.mkdtemp(prefix="tokenmaxx-replay-bench-"))
    path: Path = args.db or folder / "replay.db"  # type: ignore[operator]
    found = largest_session(path)
    if found is None:
        _note(f"building a {args.events:,}-event session in {path}")
        started = time.perf_counter()
        found = (in_child("--db", str(path), "--events", str(args.events), "--build"), args.events)
        _note(f"built in {time.perf_counter() - started:,.0f} s; measuring in a fresh process")
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    machine = f"{usable} usable cores ({cores} on the machine), SQLite {sqlite3.sqlite_version}"
    print(f"replay bench: {found[1]:,} events in session {found[0]}, {machine}")
    print(in_child("--db", str(path), "--measure", found[0]))
    if folder is not None:
        for file in folder.iterdir():
            file.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
