"""Benchmark of the fleet process and its clients over the fleet's Unix socket.

Run: python bench/attach_bench.py [--big 500] [--agents 50] [--rate 30] [--seconds 10]

Each fleet is a real fleet process (`tokenmaxx fleet-serve`, as `run` starts it) of sim agents of
the fleet benchmark's looping custom role, on a temporary database. Printed:

- attach: a 500-agent fleet, connect to state in hand (snapshot read and decoded), median and worst of 5;
- attach to first full frame: connect, read the state and start the real TUI (headless Textual,
  200x50, every frame encoded for a terminal as `bench/tui_probes.py` does) until the first frame
  after which a shadow of the terminal shows the grid of the fleet: its status line, the first
  agent's pane and the token meter; median and worst of 5;
- meter lag: 50 agents at ~30 tokens/s each, the age of every event when a client has reduced it
  (p50, p99; the event's timestamp is taken in the fleet when it is made);
- key to record: a pause (then a resume) sent from a client until its `supervisor_action` comes
  back reduced, p50 and p99 of 100;
- the fleet's CPU (% of one core, from /proc) over `--seconds` with 0, 1 and 5 clients following.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokenmaxx.agents import commands as cmd  # noqa: E402
from tokenmaxx.agents.fleet_client import stop  # noqa: E402
from tokenmaxx.agents.fleet_process import LaunchSpec  # noqa: E402
from tokenmaxx.agents.providers.sim import TOKENS_PER_S  # noqa: E402
from bench.fleet_bench import plan_for  # noqa: E402
from bench.tui_probes import FrameTap, KeyProbe, ShadowScreen  # noqa: E402
from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.tui.fleet_cli import start_fleet  # noqa: E402
from tokenmaxx.tui.app import TokenmaxxApp  # noqa: E402
from tokenmaxx.tui.config import Config  # noqa: E402
from tokenmaxx.tui.remote_fleet import RemoteFleet  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
SIZE = (200, 50)
FRAME_TIMEOUT_S = 30.0


def write_plan(folder: Path, agents: int, rate: float) -> None:
    """The fleet benchmark's plan (sim agents of a looping custom role), looping as often as a plan allows."""
    plan_for(folder, agents, rate / TOKENS_PER_S)


def start(folder: Path, agents: int, rate: float, name: str) -> tuple[Path, int]:
    write_plan(folder, agents, rate)
    spec = LaunchSpec(kind="run", session_id=name, db=folder / "s.db", out=folder / "out", cwd=folder, plan=folder / "fleet.toml")
    return start_fleet(spec), 0


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        fields = handle.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def attach_times(path: Path, tries: int = 5) -> list[float]:
    times = []
    for n in range(tries):
        began = time.perf_counter()
        client = await RemoteFleet.attach(path, f"bench:{n}")
        times.append(time.perf_counter() - began)
        assert len(client.state.agents) > 0
        await client.close()
    return times


def fleet_shown(text: str) -> bool:
    """Whether the terminal shows the fleet's grid: its status line, the first agent's pane and the meter."""
    return "grid · " in text and "╔═ a0000 ·" in text and "tok/s" in text


async def first_frame_time(path: Path, config: Config, n: int) -> tuple[float, float]:
    """Seconds from connecting to the fleet until the attached TUI's first frame that shows the fleet, and this process's CPU seconds in them."""
    began, cpu = time.perf_counter(), time.process_time()
    client = await RemoteFleet.attach(path, f"bench:frame{n}")
    app = TokenmaxxApp(client, config=config, store_path=Path(client.hello.db))
    tap = FrameTap(app, SIZE)
    tap.install()
    tap.shadow = ShadowScreen(*SIZE)
    tap.probe = KeyProbe("first frame", began, fleet_shown)
    used: list[float] = []

    def on_frame(now: float) -> None:
        if tap.probe is None and not used:
            used.append(time.process_time() - cpu)

    tap.on_frame.append(on_frame)

    async def drive(pilot: object) -> None:
        deadline = time.perf_counter() + FRAME_TIMEOUT_S
        while tap.probe is not None and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        app.exit()

    try:
        await app.run_async(headless=True, size=SIZE, auto_pilot=drive)
    finally:
        await client.close()
    if tap.probe is not None:
        raise RuntimeError(f"the fleet never showed within {FRAME_TIMEOUT_S} s; screen:\n{tap.shadow.text() if tap.shadow else ''}")
    return tap.key_latencies["first frame"][0], used[0]


async def first_frame_times(path: Path, folder: Path, tries: int = 5) -> list[tuple[float, float]]:
    config = Config(directory=folder / "config")
    return [await first_frame_time(path, config, n) for n in range(tries)]


async def meter_lag(path: Path, seconds: float) -> list[float]:
    client = await RemoteFleet.attach(path, "bench:lag")
    ages: list[float] = []
    client.subscribe(lambda event, state: ages.append(time.time() - event.ts) if isinstance(event, (ev.Text, ev.UsageReported)) else None)
    await asyncio.sleep(seconds)
    await client.close()
    return ages


async def key_to_record(path: Path, agent: str, presses: int = 100) -> list[float]:
    client = await RemoteFleet.attach(path, "bench:keys")
    heard = asyncio.Event()
    client.subscribe(lambda event, state: heard.set() if isinstance(event, ev.SupervisorAction) else None)
    times = []
    for n in range(presses):
        heard.clear()
        began = time.perf_counter()
        client.handle(cmd.Pause(agent=agent) if n % 2 == 0 else cmd.Resume(agent=agent))
        await heard.wait()
        times.append(time.perf_counter() - began)
        await asyncio.sleep(0.01)
    await client.close()
    return times


async def cpu_with(path: Path, pid: int, clients: int, seconds: float) -> float:
    attached = [await RemoteFleet.attach(path, f"bench:cpu{n}") for n in range(clients)]
    await asyncio.sleep(1.0)
    before, began = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    used = cpu_seconds(pid) - before
    for client in attached:
        await client.close()
    return 100 * used / (time.monotonic() - began)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TOKENMAXX_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="tmb", dir="/tmp")
        big_folder, small_folder = Path(tmp) / "big", Path(tmp) / "small"
        big_path, _ = start(big_folder, args.big, args.rate, "bigfleet")
        try:
            await asyncio.sleep(3)
            times = await attach_times(big_path)
            print(f"attach to a {args.big}-agent fleet, state in hand: median {statistics.median(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms")
            frames = await first_frame_times(big_path, big_folder)
            walls, cpus = [wall for wall, _ in frames], [cpu for _, cpu in frames]
            print(
                f"attach to a {args.big}-agent fleet, to first full frame: median {statistics.median(walls) * 1000:.0f} ms, "
                f"worst {max(walls) * 1000:.0f} ms (the TUI's CPU in it: median {statistics.median(cpus) * 1000:.0f} ms)"
            )
        finally:
            await stop(big_path, "bench")
        path, _ = start(small_folder, args.agents, args.rate, "smallfleet")
        try:
            await asyncio.sleep(3)
            first = await RemoteFleet.attach(path, "bench:pid")
            pid = first.hello.pid
            await first.close()
            ages = await meter_lag(path, args.seconds)
            print(f"meter lag, {args.agents} agents x {args.rate:.0f} tok/s: {len(ages)} events, p50 {pct(ages, 0.5) * 1000:.0f} ms, p99 {pct(ages, 0.99) * 1000:.0f} ms")
            keys = await key_to_record(path, "a0001")
            print(f"key to recorded action: p50 {pct(keys, 0.5) * 1000:.1f} ms, p99 {pct(keys, 0.99) * 1000:.1f} ms")
            for clients in (0, 1, 5):
                print(f"fleet CPU with {clients} clients: {await cpu_with(path, pid, clients, args.seconds):.1f}% of a core")
        finally:
            await stop(path, "bench")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", type=int, default=500)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    asyncio.run(main(parser.parse_args()))
