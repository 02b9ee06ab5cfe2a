"""Benchmark of the live runtime: N sim agents streaming at R tokens/s each, headless, no UI.

Run: python bench/fleet_bench.py [--agents N] [--rate R] [--seconds S] (defaults 500, 20, 30).
Each configuration builds a plan in a temporary project (a custom role, so the sim's generic
policy drives it, looping on its task so every agent keeps working), runs it with the real
Store (a temporary database) and the real Supervisor, lets it settle, measures S seconds of
steady state and stops it with `supervisor.finish("stopped")`. Like the headless runner, it
freezes the heap once the fleet has settled (at the end of the warm-up; --no-freeze-heap to
compare without). A small configuration
(--small, default 50 agents) runs first in the same process so the two can be compared.

The sim streams a delta every 50 ms while it talks and waits before its first token, so an
agent's average rate depends on how much it says per reply; unless --speed is given, short
pilots find the sim speed at which each agent averages R text tokens/s.

Printed per configuration: events/s appended, text and output tokens/s, CPU seconds per
agent-minute, process CPU as % of one core split into the supervisor and store (timed at
their entry points on the event loop, plus the SQLite writer thread) and the rest (the
agents: sim, tools, agent loops, scheduling), event loop lag, append-to-commit latency,
peak RSS, and what other processes used meanwhile. --profile adds a cProfile pass.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokenmaxx.agents.plan import Plan, parse_plan  # noqa: E402
from tokenmaxx.agents.plan_models import MAX_LOOP_TIMES  # noqa: E402
from tokenmaxx.agents.providers.sim import CHARS_PER_TOKEN, TOKENS_PER_S  # noqa: E402
from tokenmaxx.agents.supervisor import Supervisor  # noqa: E402
from bench.fleet_probes import GcClock, Split, Stored, machine_busy, profile_report, stored_bytes, thread_cpu  # noqa: E402
from tokenmaxx.agents.heap import freeze_heap  # noqa: E402
from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.sessions.state import FleetState  # noqa: E402
from tokenmaxx.sessions.store import Store  # noqa: E402

GOAL_AGENTS = 500
GOAL_RATE = 20.0
RATE_SLACK = 0.9  # an agent that averages 90% of the asked rate counts as keeping up
LAG_PROBE_S = 0.05
COMMIT_PROBE_S = 0.25
PILOT_AGENTS = 20
PILOT_SECONDS = 6.0
PILOT_ROUNDS = 4
PILOT_TOLERANCE = 0.05
README = "# bench project\n\nA small project for the fleet benchmark.\n\n## Layout\n\nOne README and one pyproject.\n"
PYPROJECT = '[project]\nname = "bench"\nversion = "0.0.1"\n'
ROLE_PROMPT = "You survey a project and keep notes on it."


@dataclass
class Counters:
    """What the fleet produced, counted by a log subscriber."""

    events: int = 0
    text_chars: int = 0
    output_tokens: int = 0

    def __call__(self, event: ev.Event, state: FleetState) -> None:
        self.events += 1
        if type(event) is ev.Text:
            self.text_chars += len(event.text)
        elif type(event) is ev.UsageReported:
            self.output_tokens += event.output_tokens


@dataclass
class Probes:
    """Event loop lag and append-to-commit latency, sampled while the fleet runs."""

    lags: list[float] = field(default_factory=list)
    commits: list[float] = field(default_factory=list)

    async def lag(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_PROBE_S)
            self.lags.append(loop.time() - before - LAG_PROBE_S)

    async def commit(self, store: Store) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(COMMIT_PROBE_S)
            before = loop.time()
            await store.wait_committed()
            self.commits.append(loop.time() - before)

    def clear(self) -> None:
        self.lags.clear()
        self.commits.clear()


@dataclass(frozen=True)
class Sample:
    """Clocks and counters at one instant."""

    wall: float
    cpu: float
    loop_cpu: float
    threads: dict[str, float]
    machine: float
    split: dict[str, float]
    gc: tuple[float, ...]
    events: int
    text_chars: int
    output_tokens: int

    @classmethod
    def take(cls, counters: Counters, split: Split, gc_clock: GcClock) -> Sample:
        return cls(
            time.perf_counter(),
            time.process_time(),
            time.thread_time(),
            thread_cpu(),
            machine_busy(),
            split.snapshot(),
            gc_clock.snapshot(),
            counters.events,
            counters.text_chars,
            counters.output_tokens,
        )


@dataclass(frozen=True)
class Result:
    """One configuration's steady-state figures, from two samples and the probes."""

    agents: int
    speed: float
    start: Sample
    end: Sample
    streaming: int
    lags: list[float]
    commits: list[float]
    rss_mb: float
    stop_s: float
    stored: Stored

    @property
    def seconds(self) -> float:
        return self.end.wall - self.start.wall

    def rate(self, value: float) -> float:
        """`value` (accumulated over the window) per second of it."""
        return value / self.seconds

    @property
    def events(self) -> int:
        return self.end.events - self.start.events

    @property
    def tokens_per_agent_s(self) -> float:
        return self.rate((self.end.text_chars - self.start.text_chars) / CHARS_PER_TOKEN) / self.agents

    @property
    def cpu_s(self) -> float:
        return self.end.cpu - self.start.cpu

    @property
    def loop_cpu_s(self) -> float:
        return self.end.loop_cpu - self.start.loop_cpu

    def thread_s(self, kind: str) -> float:
        return self.end.threads[kind] - self.start.threads[kind]

    @property
    def split_s(self) -> dict[str, float]:
        return {label: self.end.split[label] - self.start.split[label] for label in self.end.split}

    @property
    def runtime_s(self) -> float:
        """CPU seconds of the supervisor and the store: their work on the loop plus the SQLite thread."""
        return sum(self.split_s.values()) + self.thread_s("store")

    @property
    def others_s(self) -> float:
        return max(0.0, self.end.machine - self.start.machine - self.cpu_s)

    @property
    def cpu_per_agent_minute(self) -> float:
        return self.cpu_s / (self.agents * self.seconds / 60)


async def run_config(
    agents: int,
    speed: float,
    *,
    warmup_s: float,
    seconds: float,
    freeze: bool = True,
    profile: cProfile.Profile | None = None,
) -> Result:
    """Run `agents` sim agents, measure `seconds` of steady state after `warmup_s`, then stop them."""
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        folder = Path(tmp)
        plan = plan_for(folder, agents, speed)
        async with await Store.open(folder / "sessions.db") as store:
            supervisor = Supervisor.create(plan, store, headless=True)
            counters, probes, split, gc_clock = Counters(), Probes(), Split(), GcClock()
            supervisor.log.subscribe(counters)
            split.instrument(supervisor)
            probing = [asyncio.create_task(probes.lag()), asyncio.create_task(probes.commit(store))]
            await supervisor.start()
            await asyncio.sleep(warmup_s)
            if freeze:
                freeze_heap()
            probes.clear()
            gc_clock.install()
            start = Sample.take(counters, split, gc_clock)
            if profile is not None:
                profile.enable()
            await asyncio.sleep(seconds)
            if profile is not None:
                profile.disable()
            end = Sample.take(counters, split, gc_clock)
            gc_clock.remove()
            streaming = supervisor.state.count_by_status().get("streaming", 0)
            for task in probing:
                task.cancel()
            await asyncio.gather(*probing, return_exceptions=True)
            stopping = time.perf_counter()
            await supervisor.finish("stopped")
            await store.flush()
            stop_s = time.perf_counter() - stopping
        written = stored_bytes(folder / "sessions.db")
    gc.unfreeze()
    gc.collect()
    return Result(
        agents, speed, start, end, streaming, list(probes.lags), list(probes.commits), _peak_rss_mb(), stop_s, written
    )


def plan_for(folder: Path, agents: int, speed: float) -> Plan:
    """A plan of `agents` sim agents of a custom role, each looping on its task as often as a plan allows, no budget."""
    project = folder / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "README.md").write_text(README)
    (project / "pyproject.toml").write_text(PYPROJECT)
    lines = [
        'name = "fleet-bench"',
        'workdir = "project"',
        'out = "out"',
        f"max_parallel = {agents}",
        "stall_after = 600",
        "burn_tokens = 100000000",
        "",
        "[providers.bench]",
        'kind = "sim"',
        f"speed = {speed!r}",
        "",
        "[roles.surveyor]",
        f'prompt = "{ROLE_PROMPT}"',
        'tools = ["read_file", "list_files", "write_file"]',
    ]
    for index in range(agents):
        lines += [
            "",
            "[[agents]]",
            f'name = "a{index:04d}"',
            'role = "surveyor"',
            'provider = "bench"',
            f'task = "Survey the project and write notes.md about it (agent {index})."',
            f"loop = {{ times = {MAX_LOOP_TIMES} }}",
        ]
    path = folder / "fleet.toml"
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return parse_plan(text, path)


async def calibrate(rate: float) -> float:
    """The sim speed at which an agent averages `rate` text tokens/s, found by short pilots."""
    speed = rate / TOKENS_PER_S
    for _ in range(PILOT_ROUNDS):
        pilot = await run_config(PILOT_AGENTS, speed, warmup_s=2.0, seconds=PILOT_SECONDS)
        measured = pilot.tokens_per_agent_s
        print(f"pilot: {PILOT_AGENTS} agents at sim speed {speed:.3f} average {measured:.1f} text tokens/s each")
        if measured <= 0 or abs(measured - rate) <= rate * PILOT_TOLERANCE:
            break
        speed *= rate / measured
    return speed


def report(result: Result) -> None:
    r = result
    print(f"\n{r.agents} agents (sim speed {r.speed:.3f}), {r.seconds:.1f} s of steady state")
    print(f"  events appended         {r.rate(r.events):>9,.0f} /s")
    print(f"  text tokens streamed    {r.tokens_per_agent_s * r.agents:>9,.0f} /s  ({r.tokens_per_agent_s:.1f} per agent)")
    print(f"  output tokens (usage)   {r.rate(r.end.output_tokens - r.start.output_tokens):>9,.0f} /s")
    print(f"  agents streaming        {r.streaming:>9} at the end of the window")
    print(f"  CPU per agent-minute    {r.cpu_per_agent_minute:>9.3f} s")
    print(f"  process CPU             {r.rate(r.cpu_s):>9.0%} of one core")
    print(f"    supervisor + store    {r.rate(r.runtime_s):>9.0%}")
    for label, seconds in r.split_s.items():
        print(f"      {label:<52} {r.rate(seconds):>6.1%}")
    print(f"      {'SQLite writer thread':<52} {r.rate(r.thread_s('store')):>6.1%}")
    agents_s = r.loop_cpu_s - sum(r.split_s.values())
    print(f"    agents (sim, tools, agent loops, scheduling) on the event loop {r.rate(agents_s):.0%}, tool threads {r.rate(r.thread_s('tools')):.1%}")
    gc_s = [b - a for a, b in zip(r.start.gc, r.end.gc)]
    print(
        f"  garbage collector       {r.rate(sum(gc_s[:3])):>9.1%} of the time (inside the figures above): "
        + ", ".join(f"gen{g} {int(gc_s[3 + g])} runs {gc_s[g] * 1000:.0f} ms" for g in range(3))
    )
    print(f"  event loop lag          {_ms(_percentile(r.lags, 50)):>9.1f} ms p50, {_ms(_percentile(r.lags, 99)):.1f} ms p99")
    print(
        f"  append to commit        {_ms(_percentile(r.commits, 50)):>9.1f} ms p50, {_ms(_percentile(r.commits, 99)):.1f} ms p99, "
        f"{_ms(max(r.commits, default=0.0)):.1f} ms max"
    )
    print(f"  peak RSS                {r.rss_mb:>9.0f} MB  (process, so far)")
    print(f"  stop (finish + flush)   {r.stop_s:>9.2f} s")
    w = r.stored
    print(
        f"  database (whole run)    {w.file_bytes / 1e6:>9.1f} MB: {w.events:,} events ({w.event_bytes / 1e6:.1f} MB of payload), "
        f"{w.snapshots} snapshots ({w.snapshot_bytes / 1e6:.1f} MB, {w.snapshot_bytes / max(1, w.snapshots) / 1e3:.0f} kB each)"
    )
    print(f"  other processes used    {r.rate(r.others_s):>9.0%} of one core meanwhile")


def compare(small: Result, large: Result) -> None:
    print(f"\nratio {large.agents}/{small.agents} agents (x{large.agents / small.agents:.0f}):")
    print(f"  events/s                x{large.rate(large.events) / small.rate(small.events):.1f}")
    print(f"  process CPU             x{large.rate(large.cpu_s) / small.rate(small.cpu_s):.1f}")
    print(f"  supervisor + store CPU  x{large.rate(large.runtime_s) / small.rate(small.runtime_s):.1f}")
    print(f"  CPU per agent-minute    x{large.cpu_per_agent_minute / small.cpu_per_agent_minute:.2f}")
    print(f"  CPU per event           {_us_per_event(small):.0f} µs -> {_us_per_event(large):.0f} µs")


def verdict(result: Result, rate: float) -> None:
    kept_up = result.tokens_per_agent_s >= rate * RATE_SLACK
    runtime = result.rate(result.runtime_s)
    met = kept_up and runtime < 1.0 and result.agents >= GOAL_AGENTS
    print(
        f"\ngoal ({GOAL_AGENTS} agents at {GOAL_RATE:.0f} tokens/s each, supervisor + store under one core): "
        f"{'met' if met else 'missed'}: {result.agents} agents averaged {result.tokens_per_agent_s:.1f} tokens/s "
        f"(asked {rate:.0f}); supervisor + store {runtime:.0%} of one core, the whole process "
        f"{result.rate(result.cpu_s):.0%}, on {os.cpu_count()} cores"
    )


def _us_per_event(result: Result) -> float:
    return result.cpu_s / result.events * 1e6 if result.events else 0.0


def _percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def _ms(seconds: float) -> float:
    return seconds * 1000


def _peak_rss_mb() -> float:
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kilobytes / 1024 if sys.platform != "darwin" else kilobytes / 1024 / 1024


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, {sys.platform}")
    speed = args.speed if args.speed is not None else await calibrate(args.rate)
    results = []
    for agents in (args.small, args.agents) if args.small else (args.agents,):
        result = await run_config(agents, speed, warmup_s=args.warmup, seconds=args.seconds, freeze=not args.no_freeze_heap)
        report(result)
        results.append(result)
    if len(results) == 2:
        compare(*results)
    verdict(results[-1], args.rate)
    if args.profile:
        profile = cProfile.Profile()
        seconds = min(args.seconds, 15.0)
        await run_config(args.agents, speed, warmup_s=args.warmup, seconds=seconds, freeze=not args.no_freeze_heap, profile=profile)
        print("\n".join(profile_report(profile, args.agents, args.top)))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=GOAL_AGENTS, help="agents in the large configuration")
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="text tokens/s each agent averages")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of steady state measured")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds to let the fleet settle first")
    parser.add_argument("--small", type=int, default=50, help="agents in the comparison run (0: none)")
    parser.add_argument("--speed", type=float, default=None, help="sim speed (default: calibrated to --rate)")
    parser.add_argument(
        "--no-freeze-heap", action="store_true", help="leave the heap unfrozen (the headless runner freezes it once settled)"
    )
    parser.add_argument("--profile", action="store_true", help="attribute the event loop's time with cProfile")
    parser.add_argument("--top", type=int, default=25, help="functions listed by --profile")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
