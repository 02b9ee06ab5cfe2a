"""Measuring instruments for the fleet benchmark: CPU by thread and by part of the runtime.

`Split` times the supervisor's and the store's work on the event loop by wrapping a running
supervisor's entry points (the event log's `emit`, which stamps, queues, reduces and tells
subscribers; pricing; the budget check; the watchdog's sweep) with the thread's CPU clock,
so time the process spends descheduled by other processes is not counted; the clock costs
~0.6 µs a read, about 1% of a core at 10,000 events/s. `thread_cpu` reads each thread's CPU time from /proc, so
the SQLite writer thread and the tool threads can be told apart from the event loop.
`stored_bytes` says what a run left in its database. `profile_report` attributes a cProfile
of the loop thread by area.
"""

from __future__ import annotations

import cProfile
import gc
import os
import pstats
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
STORE_THREADS = ("store-writer:", "_connection_worker_thread")  # the store's writer thread, and aiosqlite's worker (reads)
TOOL_THREADS = "asyncio_"  # the default executor that asyncio.to_thread uses
IDLE = "<method 'poll' of 'select."  # the event loop waiting for something to do


@dataclass
class Split:
    """CPU time spent inside the supervisor's and the store's entry points, on the loop thread."""

    seconds: dict[str, float] = field(default_factory=dict)
    _depth: int = 0

    def wrap(self, owner: object, attribute: str, label: str) -> None:
        """Replace `owner.attribute` (a bound method) by a timed one for this instance only."""
        inner: Callable[..., Any] = getattr(owner, attribute)
        self.seconds.setdefault(label, 0.0)

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return inner(*args, **kwargs)
            self._depth += 1
            start = time.thread_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds[label] += time.thread_time() - start
                self._depth -= 1

        setattr(owner, attribute, timed)

    def instrument(self, supervisor: Any) -> None:
        self.wrap(supervisor.log, "emit", "event log: stamp, store queue, reduce, subscribers")
        self.wrap(supervisor, "price", "pricing each reply")
        self.wrap(supervisor, "budget_refusal", "budget check before each call")
        self.wrap(supervisor.watchdog, "check", "watchdog sweep")

    def snapshot(self) -> dict[str, float]:
        return dict(self.seconds)


@dataclass
class GcClock:
    """CPU time the garbage collector spends, by generation, while installed."""

    seconds: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    runs: list[int] = field(default_factory=lambda: [0, 0, 0])
    _started: float = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds[info["generation"]] += time.thread_time() - self._started
            self.runs[info["generation"]] += 1

    def install(self) -> None:
        gc.callbacks.append(self)

    def remove(self) -> None:
        gc.callbacks.remove(self)

    def snapshot(self) -> tuple[float, ...]:
        return (*self.seconds, *self.runs)


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of the SQLite writer thread and of the tool (executor) threads, from /proc."""
    totals = {"store": 0.0, "tools": 0.0}
    for thread in threading.enumerate():
        kind = "store" if any(name in thread.name for name in STORE_THREADS) else "tools" if thread.name.startswith(TOOL_THREADS) else None
        if kind is None or thread.native_id is None:
            continue
        totals[kind] += _task_cpu(thread.native_id)
    return totals


def machine_busy() -> float:
    """CPU seconds every core of the machine has spent busy since boot (0.0 where /proc/stat is missing)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_S


def _task_cpu(native_id: int) -> float:
    try:
        stat = Path(f"/proc/self/task/{native_id}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def stored_bytes(db: Path) -> Stored:
    """How much the session wrote: events and their payload bytes, snapshots and their bytes."""
    with sqlite3.connect(db) as connection:
        events, event_bytes = connection.execute("SELECT count(*), coalesce(sum(length(payload)), 0) FROM events").fetchone()
        snapshots, snapshot_bytes = connection.execute(
            "SELECT count(*), coalesce(sum(length(state)), 0) FROM snapshots"
        ).fetchone()
    connection.close()
    return Stored(events, event_bytes, snapshots, snapshot_bytes, db.stat().st_size)


@dataclass(frozen=True)
class Stored:
    """What a whole run (warm-up and stop included) left in its database."""

    events: int
    event_bytes: int
    snapshots: int
    snapshot_bytes: int
    file_bytes: int


GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("reducer (sessions/state.py)", ("sessions/state.py",)),
    ("store + event codec", ("sessions/store.py", "sessions/schema.py", "sessions/events.py")),
    ("event log (sessions/log.py)", ("sessions/log.py",)),
    ("supervisor, watchdog, budgets", ("agents/supervisor.py", "agents/commanding.py", "agents/watchdog.py", "agents/budget.py", "agents/pricing.py", "agents/runs.py")),
    ("agent loop + conversation", ("agents/loop.py", "agents/conversation.py")),
    ("sim provider + policies", ("agents/providers/sim.py", "agents/sim/")),
    ("tools", ("agents/tools/",)),
    ("pydantic", ("pydantic",)),
    ("asyncio + selectors", ("asyncio/", "selectors.py")),
    ("genai_prices", ("genai_prices",)),
    ("aiosqlite (loop side)", ("aiosqlite",)),
)
ENTRY_POINTS = (
    ("EventLog.emit (stamp + store + reduce + subscribers)", "sessions/log.py", "emit"),
    ("  Store.append", "sessions/store.py", "append"),
    ("  reduce", "sessions/state.py", "reduce"),
    ("  Watchdog.observe", "agents/watchdog.py", "observe"),
    ("SimProvider.stream (decide + deltas)", "agents/providers/sim.py", "stream"),
    ("TextCoalescer.add (includes the emits it makes)", "agents/loop.py", "add"),
    ("Budgets.price", "agents/budget.py", "price"),
    ("Budgets.refusal", "agents/budget.py", "refusal"),
    ("run_tool", "agents/tools/__init__.py", "run_tool"),
)


def profile_report(profile: cProfile.Profile, agents: int, top: int) -> list[str]:
    """The loop thread's profiled time by area (self time), for a few entry points (inclusive), and the top functions."""
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    raw = {key: entry for key, entry in stats.items() if not key[2].startswith(IDLE)}
    idle = sum(entry[2] for key, entry in stats.items() if key[2].startswith(IDLE))
    total = sum(entry[2] for entry in raw.values()) or 1.0
    groups: dict[str, float] = {}
    for (filename, _, _), entry in raw.items():
        groups[_group(filename)] = groups.get(_group(filename), 0.0) + entry[2]
    lines = [
        f"\ncProfile of the event loop thread, {agents} agents: {total:.1f} s busy, {idle:.1f} s idle in epoll "
        "(shares below are of the busy time; profiling slows Python code more than C)"
    ]
    lines.append("self time by area:")
    lines += [f"  {name:<52} {seconds / total:>6.1%}" for name, seconds in sorted(groups.items(), key=lambda item: -item[1])]
    lines.append("inclusive time of entry points:")
    for label, path, function in ENTRY_POINTS:
        seconds = sum(entry[3] for (f, _, name), entry in raw.items() if f.endswith(path) and name == function)
        lines.append(f"  {label:<52} {seconds / total:>6.1%}")
    lines.append(f"top {top} functions by self time:")
    for (filename, line, name), entry in sorted(raw.items(), key=lambda item: -item[1][2])[:top]:
        lines.append(f"  {entry[2] / total:>6.1%}  {entry[1]:>9,} calls  {name} ({_short(filename)}:{line})")
    return lines


def _group(filename: str) -> str:
    for name, needles in GROUPS:
        if any(needle in filename for needle in needles):
            return name
    return "other (builtins, stdlib)"


def _short(filename: str) -> str:
    parts = Path(filename).parts
    return "/".join(parts[-2:]) if len(parts) > 1 else filename
