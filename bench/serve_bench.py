"""Benchmark of `tokenmaxx serve` in a headless Chromium (Debian's `chromium`), on a real fleet process.

Run: python bench/serve_bench.py [--agents 50] [--rate 30] [--seconds 10] [--presses 30] [--tabs 1 3]

The fleet is the attach benchmark's (sim agents of a looping custom role, `--agents` at ~`--rate`
tokens/s each). Printed:

- first frame: from navigating a new tab to the fleet's screen in its terminal, median and worst of 5;
- key to page: `?` (then escape) pressed in the page until the page shows the help (then the fleet again), p50 and p99;
- CPU (% of one core, from /proc) over `--seconds` with 1 and more tabs open: the serve process, the tabs'
  `tokenmaxx attach` processes, and the fleet, each divided by the tabs where it is per tab.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokenmaxx.agents.fleet_client import find_fleets, stop  # noqa: E402
from bench.attach_bench import cpu_seconds, pct, start  # noqa: E402
from tests.tui.chromium import Chromium, Tab  # noqa: E402


def serve(folder: Path, session: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "tokenmaxx.tui", "serve", session, "--port", "0"], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    found = re.search(r"http://\S+", process.stdout.readline())
    assert found, "tokenmaxx serve printed no URL"
    return process, found[0]


def tab_pids(session: str) -> list[int]:
    """The `tokenmaxx attach SESSION` processes the tabs run."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"attach" in argv and session.encode() in argv and argv[1:3] == [b"-m", b"tokenmaxx.tui"]:
            pids.append(int(entry))
    return pids


async def first_frame(browser: Chromium, url: str, tries: int = 5) -> list[float]:
    times = []
    for _ in range(tries):
        began = time.perf_counter()
        tab = await browser.open(url)
        await tab.wait_for(lambda s: "grid · " in s, timeout=60, poll=0.01)
        times.append(time.perf_counter() - began)
        await browser.close_tab(tab)
    return times


async def key_to_page(tab: Tab, presses: int) -> list[float]:
    times = []
    for _ in range(presses):
        for key, shown in (("?", lambda s: "Keys · " in s), ("Escape", lambda s: "Keys · " not in s)):
            began = time.perf_counter()
            await tab.key(key)
            await tab.wait_for(shown, timeout=10, poll=0.01)
            times.append(time.perf_counter() - began)
    return times


async def cpu_per_tab(browser: Chromium, url: str, session: str, serve_pid: int, fleet_pid: int, tabs: int, seconds: float) -> str:
    opened = [await browser.open(url) for _ in range(tabs)]
    for tab in opened:
        await tab.wait_for(lambda s: "grid · " in s, timeout=60)
    pids = {"serve": [serve_pid], "tabs": tab_pids(session), "fleet": [fleet_pid]}
    before = {name: sum(cpu_seconds(p) for p in group) for name, group in pids.items()}
    await asyncio.sleep(seconds)
    used = {name: 100 * (sum(cpu_seconds(p) for p in group) - before[name]) / seconds for name, group in pids.items()}
    for tab in opened:
        await browser.close_tab(tab)
    return (
        f"{tabs} tab(s): serve {used['serve']:.1f}% ({used['serve'] / tabs:.1f}%/tab)  "
        f"tab apps {used['tabs']:.1f}% ({used['tabs'] / tabs:.1f}%/tab)  fleet {used['fleet']:.1f}%"
    )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tm") as scratch:
        folder = Path(scratch)
        os.environ["TOKENMAXX_RUNTIME_DIR"] = str(folder / "rt")
        os.environ["TOKENMAXX_CONFIG_DIR"] = str(folder / "config")
        path, _ = start(folder, args.agents, args.rate, "sv1")
        (found,) = await find_fleets()
        assert found.hello is not None
        process, url = serve(folder, "sv1")
        browser = Chromium(folder)
        try:
            frames = await first_frame(browser, url)
            print(f"first frame: median {statistics.median(frames) * 1000:.0f} ms  worst {max(frames) * 1000:.0f} ms ({args.agents} agents)")
            tab = await browser.open(url)
            await tab.wait_for(lambda s: "grid · " in s, timeout=60)
            keys = await key_to_page(tab, args.presses)
            print(f"key to page: p50 {pct(keys, 0.5) * 1000:.0f} ms  p99 {pct(keys, 0.99) * 1000:.0f} ms ({len(keys)} presses)")
            await browser.close_tab(tab)
            for tabs in args.tabs:
                print(await cpu_per_tab(browser, url, "sv1", process.pid, found.hello.pid, tabs, args.seconds))
        finally:
            await browser.close()
            process.terminate()
            process.wait(timeout=30)
            await stop(path, "bench")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--presses", type=int, default=30)
    parser.add_argument("--tabs", type=int, nargs="+", default=[1, 3])
    asyncio.run(main(parser.parse_args()))
