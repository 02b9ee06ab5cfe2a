"""Benchmark of the face: N sim agents at R tokens/s each, through the real supervisor and store, in the real app.

Run: python bench/tui_bench.py [--agents N] [--rate R] [--seconds S] (defaults 50, 30, 20).

Each run builds a plan in a temporary project (a custom role that loops on its task, so every
agent keeps streaming), opens the real Store on a temporary database and the real Supervisor,
and shows it in the real TokenmaxxApp at 200x50, headless, in this process (as `tokenmaxx run`
does: one process holds the fleet and the face), with the heap frozen once started as the app does
in a terminal (`--no-freeze-heap` to compare). Headless Textual skips only the encoding of
frames into terminal bytes; the bench does that encoding for every frame so the CPU figure pays
for it (bench/tui_probes.py). The sim speed is first calibrated, without the UI, to R text
tokens/s per agent. Printed:

- process CPU as % of one core over S seconds of steady state, in the grid and in the table,
  beside the same fleet with no UI (the difference is the face's cost);
- key press to screen, p50/p99: a Key event is posted to the app as the terminal driver posts
  one, and the clock stops at the first frame after which a shadow of the terminal shows the
  change (l/h: the next pane's double border `╔═ name`; t: the table replacing the grid, and back);
- meter lag, p50/p99: from each text or usage event's emit to the first frame that carries a
  meter rendered from a state at or after that event;
- `tokenmaxx demo` to its first full frame: the real CLI started in a 200x50 pty on a sample git
  repository, timed until its output has drawn all five agent names and the meter (median of 3).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from textual import events  # noqa: E402

from tokenmaxx.agents.plan import Plan, parse_plan  # noqa: E402
from tokenmaxx.agents.providers.sim import CHARS_PER_TOKEN, TOKENS_PER_S  # noqa: E402
from tokenmaxx.agents.supervisor import Supervisor  # noqa: E402
from bench.tui_probes import FrameTap, KeyProbe, MeterLag, demo_first_frame, percentile  # noqa: E402
from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.sessions.state import FleetState  # noqa: E402
from tokenmaxx.sessions.store import Store  # noqa: E402
from tokenmaxx.tui.app import TokenmaxxApp  # noqa: E402
from tokenmaxx.tui.config import Config  # noqa: E402
from tokenmaxx.tui.fleet_view import LiveFleet  # noqa: E402
from tokenmaxx.tui.widgets.token_meter import TokenMeter  # noqa: E402

SIZE = (200, 50)
GOALS = {"cpu": 0.60, "key_p99": 0.100, "meter_p99": 0.250, "demo": 1.5}
DEMO_AGENTS = ("charts", "logs", "factcheck", "deck", "critique")
PROBE_TIMEOUT_S = 3.0


@dataclass
class Counters:
    """Events and text the fleet produced, counted by a log subscriber."""

    events: int = 0
    text_chars: int = 0

    def __call__(self, event: ev.Event, state: FleetState) -> None:
        self.events += 1
        if type(event) is ev.Text:
            self.text_chars += len(event.text)


@dataclass
class Window:
    """One steady-state window: CPU, wall time, what the fleet produced and how many frames were drawn."""

    agents: int
    seconds: float = 0.0
    cpu_s: float = 0.0
    events: int = 0
    text_chars: int = 0
    frames: int = 0

    @property
    def cpu(self) -> float:
        return self.cpu_s / self.seconds

    @property
    def tokens_per_agent_s(self) -> float:
        return self.text_chars / CHARS_PER_TOKEN / self.seconds / self.agents


@dataclass
class UiResult:
    """A run with the face: its window, key latencies by kind and the meter's lags."""

    view: str
    window: Window
    keys: dict[str, list[float]] = field(default_factory=dict)
    meter_lags: list[float] = field(default_factory=list)


async def measure_window(counters: Counters, agents: int, seconds: float, frames: Callable[[], int] = lambda: 0) -> Window:
    start = (time.perf_counter(), time.process_time(), counters.events, counters.text_chars, frames())
    await asyncio.sleep(seconds)
    end = (time.perf_counter(), time.process_time(), counters.events, counters.text_chars, frames())
    wall, cpu, events_, chars, drawn = (b - a for a, b in zip(start, end))
    return Window(agents, wall, cpu, int(events_), int(chars), int(drawn))


def plan_for(folder: Path, agents: int, speed: float) -> Plan:
    """`agents` sim agents of a custom role, each looping on its task for ever, no budget, no watchdog flags."""
    project = folder / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "README.md").write_text("# bench project\n\nA small project to survey.\n\n## Layout\n\nOne README.\n")
    (project / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0.0.1"\n')
    head = [
        'name = "tui-bench"', 'workdir = "project"', 'out = "out"', f"max_parallel = {agents}",
        "stall_after = 600", "burn_tokens = 100000000", "",
        "[providers.bench]", 'kind = "sim"', f"speed = {speed!r}", "",
        "[roles.surveyor]", 'prompt = "You survey a project and keep notes on it."',
        'tools = ["read_file", "list_files", "write_file"]',
    ]
    body = [
        f'\n[[agents]]\nname = "a{i:04d}"\nrole = "surveyor"\nprovider = "bench"\n'
        f'task = "Survey the project and write notes.md about it (agent {i})."\nloop = {{ times = 1000000 }}'
        for i in range(agents)
    ]
    path = folder / "fleet.toml"
    path.write_text("\n".join(head + body) + "\n")
    return parse_plan(path.read_text(), path)


async def run_runtime(agents: int, speed: float, warmup: float, seconds: float) -> Window:
    """The fleet with no UI: the supervisor, the store and the agents alone."""
    with tempfile.TemporaryDirectory(prefix="tui-bench-") as tmp:
        folder = Path(tmp)
        async with await Store.open(folder / "s.db") as store:
            supervisor = Supervisor.create(plan_for(folder, agents, speed), store)
            counters = Counters()
            supervisor.log.subscribe(counters)
            await supervisor.start()
            await asyncio.sleep(warmup)
            window = await measure_window(counters, agents, seconds)
            await supervisor.finish("stopped")
            await store.flush()
    return window


async def calibrate(agents: int, rate: float, rounds: int = 3) -> float:
    """The sim speed at which each agent averages `rate` text tokens/s, found by short runs without the UI."""
    speed = rate / TOKENS_PER_S
    for _ in range(rounds):
        measured = (await run_runtime(agents, speed, warmup=2.0, seconds=5.0)).tokens_per_agent_s
        print(f"calibrating: sim speed {speed:.3f} gives {measured:.1f} text tokens/s per agent")
        if measured <= 0 or abs(measured - rate) <= rate * 0.05:
            break
        speed *= rate / measured
    return speed


async def run_ui(
    view: str, agents: int, speed: float, warmup: float, seconds: float, cycles: int, freeze_heap: bool = True
) -> UiResult:
    """The fleet in the real app, showing `view`; probes keys after the window when `cycles` > 0."""
    with tempfile.TemporaryDirectory(prefix="tui-bench-") as tmp:
        folder = Path(tmp)
        async with await Store.open(folder / "s.db") as store:
            supervisor = Supervisor.create(plan_for(folder, agents, speed), store)
            config = Config(directory=folder / "config")
            app = TokenmaxxApp(LiveFleet(supervisor), config=config, on_start=supervisor.start, freeze_heap=freeze_heap)
            results: list[UiResult] = []

            async def drive(pilot: Any) -> None:
                try:
                    results.append(await _measure(app, supervisor, view, warmup, seconds, cycles))
                finally:
                    app.exit()

            await app.run_async(headless=True, size=SIZE, auto_pilot=drive)
            await supervisor.finish("stopped")
            await store.flush()
    return results[0]


async def _measure(app: TokenmaxxApp, supervisor: Supervisor, view: str, warmup: float, seconds: float, cycles: int) -> UiResult:
    tap = FrameTap(app, SIZE)
    tap.install()
    meter, counters = MeterLag(), Counters()
    supervisor.log.subscribe(counters)
    supervisor.log.subscribe(meter.on_event)
    await _until(lambda: app.screen.query(TokenMeter))
    meter.watch_meter(app.screen.query_one(TokenMeter))
    tap.on_frame.append(meter.on_frame)
    if view == "table":
        app.post_message(events.Key("t", "t"))
    await asyncio.sleep(warmup)
    meter.recording = True
    window = await measure_window(counters, len(supervisor.plan.agents), seconds, lambda: tap.frames)
    meter.recording = False
    if cycles:
        tap.watch_screen()
        await _press_keys(app, tap, cycles)
    return UiResult(view, window, tap.key_latencies, meter.lags)


async def _press_keys(app: TokenmaxxApp, tap: FrameTap, cycles: int) -> None:
    """Move right, left, open the table and close it, `cycles` times, each press timed until it shows."""
    screen: Any = app.screen
    for _ in range(cycles):
        for key in ("l", "h", "t", "t"):
            names, selected = screen.names, screen.selected
            index = names.index(selected)
            if key in "lh":
                target = names[min(len(names) - 1, index + 1) if key == "l" else max(0, index - 1)]
                shows = _pane_selected(target)
            else:
                shows = _table_shown if not screen.table_mode else _pane_selected(selected)
            kind = "move (l/h)" if key in "lh" else "t: grid to table" if not screen.table_mode else "t: table to grid"
            tap.probe = KeyProbe(kind, time.perf_counter(), shows)
            app.post_message(events.Key(key, key))
            if not await _until(lambda: tap.probe is None, PROBE_TIMEOUT_S):
                raise RuntimeError(f"key {key!r} never showed within {PROBE_TIMEOUT_S} s; screen:\n{tap.shadow.text() if tap.shadow else ''}")
            await asyncio.sleep(random.uniform(0.1, 0.25))


def _pane_selected(name: str) -> Callable[[str], bool]:
    return lambda text: f"╔═ {name} ·" in text and "grid · " in text


def _table_shown(text: str) -> bool:
    return "table · " in text and "╔═" not in text and "a0000" in text


async def _until(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.002)
    return True


def demo_runs(runs: int) -> list[float]:
    from tokenmaxx.agents.demo.sample_repo import create_sample_repo

    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="tui-bench-demo-") as tmp:
            folder = Path(tmp)
            repo = create_sample_repo(folder / "repo")
            times.append(demo_first_frame(repo, folder, DEMO_AGENTS))
    return times


def report_window(label: str, window: Window, baseline: Window | None) -> None:
    extra = f", {window.frames / window.seconds:.1f} frames/s" if window.frames else ""
    face = f" (the face: {window.cpu - baseline.cpu:+.0%} over the fleet alone)" if baseline else ""
    print(
        f"  {label:<26} CPU {window.cpu:>5.0%} of one core{face}; {window.events / window.seconds:,.0f} events/s, "
        f"{window.tokens_per_agent_s:.1f} text tokens/s per agent{extra}"
    )


def report_ms(label: str, values: list[float], goal: float | None = None) -> None:
    p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
    verdict = "" if goal is None else f"  goal p99 <= {goal * 1000:.0f} ms: {'met' if p99 <= goal * 1000 else 'MISSED'}"
    print(f"  {label:<26} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  max {max(values) * 1000:6.1f} ms  (n={len(values)}){verdict}")


def report_cpu(baseline: Window, grid: UiResult, table: UiResult) -> None:
    report_window("fleet alone (no UI)", baseline, None)
    report_window("fleet + face, grid", grid.window, baseline)
    report_window("fleet + face, table", table.window, baseline)
    worst = max(grid.window.cpu, table.window.cpu)
    print(f"  goal: the UI process at most {GOALS['cpu']:.0%} of one core: {'met' if worst <= GOALS['cpu'] else 'MISSED'} (worst view {worst:.0%})")


def report_latency(grid: UiResult, table: UiResult) -> None:
    print("\nkey press to screen (grid view; the clock stops at the first frame that shows the change):")
    for kind, values in grid.keys.items():
        report_ms(kind, values)
    report_ms("all keys", [v for values in grid.keys.values() for v in values], GOALS["key_p99"])
    print("\nmeter lag behind token events (emit -> first frame after the meter took a state that includes the event):")
    report_ms("grid view", grid.meter_lags, GOALS["meter_p99"])
    report_ms("table view", table.meter_lags, GOALS["meter_p99"])


def report_demo(times: list[float]) -> None:
    median = statistics.median(times)
    print("\n`tokenmaxx demo` to its first full frame (a 200x50 pty, until the output has drawn the five agents and the meter):")
    runs = ", ".join(f"{t:.2f}" for t in times)
    print(f"  median {median:.2f} s over {len(times)} runs ({runs} s)  goal < {GOALS['demo']} s: {'met' if median < GOALS['demo'] else 'MISSED'}")


async def main(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {args.agents} agents at {args.rate:.0f} text tokens/s each, {SIZE[0]}x{SIZE[1]}")
    speed = args.speed if args.speed is not None else await calibrate(args.agents, args.rate)
    baseline = await run_runtime(args.agents, speed, args.warmup, args.seconds)
    freeze = not args.no_freeze_heap
    grid = await run_ui("grid", args.agents, speed, args.warmup, args.seconds, args.cycles, freeze)
    table = await run_ui("table", args.agents, speed, args.warmup, args.seconds, 0, freeze)
    print(f"\nsteady state, {args.seconds:.0f} s each (sim speed {speed:.3f}):")
    report_cpu(baseline, grid, table)
    report_latency(grid, table)
    if args.demo_runs:
        report_demo(demo_runs(args.demo_runs))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50, help="agents in the fleet")
    parser.add_argument("--rate", type=float, default=30.0, help="text tokens/s each agent averages")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of steady state measured per run")
    parser.add_argument("--warmup", type=float, default=7.0, help="seconds to let the fleet settle first")
    parser.add_argument("--speed", type=float, default=None, help="sim speed (default: calibrated to --rate)")
    parser.add_argument("--cycles", type=int, default=25, help="rounds of l, h, t, t key presses timed")
    parser.add_argument(
        "--no-freeze-heap", action="store_true", help="do not freeze the heap once started (the app does in a terminal)"
    )
    parser.add_argument("--demo-runs", type=int, default=3, help="times `tokenmaxx demo` is started (0: skip)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
