"""Benchmark of the real provider path: N agents through tokenmaxx against N bare SDK streams, same fake server.

Run: python bench/real_path_bench.py [--agents 50,200,500,800] [--path openai,anthropic]
[--workers 1,2] [--seconds S] [--warmup W] [--tokens K] [--rate R]. The fake server (bench/real_path_server.py)
runs in its own process and streams one token per chunk at R chunks/s per reply, paced on its
own clock, then a usage chunk. For each path and N, two client processes run in turn against
it (bench/real_path_clients.py): (a) tokenmaxx, N agents of a plan through the real Store and
Supervisor, and (b) a bare script that only consumes the same streams with the official SDK.
With `--workers`, tokenmaxx runs once per number of worker processes (1: none; its CPU is then
the fleet's process and its workers', shown split). Each measures S seconds after a W-second
warm-up. Printed per configuration: each client's CPU as % of one core and µs per token, their ratio (tokenmaxx / bare), tokens/s per agent,
tokenmaxx's append-to-commit latency (on the writer thread's clock, per batch) and event loop
lag, the server's CPU while tokenmaxx ran, and the machine's load. The machine is shared: compare the ratios of one
run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.fleet_probes import TICKS_PER_S  # noqa: E402

GOAL_RATE = 19.5
GOAL_ONE_CORE_AGENTS = 500
GOAL_RATIO = 0.75
GOAL_RATIO_AGENTS = 200
GOAL_COMMIT_P99 = {500: 0.25, 800: 1.0}
GOAL_WORKERS_AGENTS = 1000


def start_server(rate: float, tokens: int) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [sys.executable, str(BENCH / "real_path_server.py"), "--rate", str(rate), "--tokens", str(tokens)],
        stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("port "):
        server.kill()
        raise SystemExit(f"the fake server did not start: {line!r}")
    return server, int(line.split()[1])


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def run_client(kind: str, path: str, agents: int, port: int, args: argparse.Namespace, workers: int = 1) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__)), "--client", kind, "--path", path, "--agents", str(agents),
               "--port", str(port), "--warmup", str(args.warmup), "--seconds", str(args.seconds), "--workers", str(workers)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.warmup + args.seconds + 300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"the {kind} client failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1])


def measure(path: str, agents: int, server_pid: int, port: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The bare client, then tokenmaxx with each number of worker processes, and the server's CPU while tokenmaxx ran."""
    bare = run_client("bare", path, agents, port, args)
    results = []
    for workers in (int(n) for n in args.workers.split(",")):
        server_cpu, wall = process_cpu_s(server_pid), time.perf_counter()
        maxx = run_client("tokenmaxx", path, agents, port, args, workers)
        server = (process_cpu_s(server_pid) - server_cpu) / (time.perf_counter() - wall)
        results.append({"path": path, "agents": agents, "workers": workers, "bare": bare, "tokenmaxx": maxx, "server_core": server})
    return results


def core(figures: dict[str, Any]) -> float:
    return figures["cpu_s"] / figures["wall_s"]


def split(figures: dict[str, Any]) -> str:
    """tokenmaxx's CPU, and where there are worker processes, the fleet's and theirs."""
    if not figures.get("workers"):
        return f"{core(figures):.0%}"
    workers = figures["worker_cpu_s"] / figures["wall_s"]
    return f"{core(figures):.0%} ({core(figures) - workers:.0%} + {workers:.0%})"


def us_per_token(figures: dict[str, Any]) -> float:
    return figures["cpu_s"] / figures["tokens"] * 1e6 if figures["tokens"] else float("inf")


def per_agent(figures: dict[str, Any], agents: int) -> float:
    return figures["tokens"] / figures["wall_s"] / agents


HEADER = (
    "| path | agents | workers | bare SDK, % of a core | tokenmaxx, % of a core (fleet + workers) | µs per token (bare / tokenmaxx) | ratio | "
    "tokens/s per agent (bare / tokenmaxx) | append-to-commit p50 / p99 (max) | loop lag p50 / p99 | GC (tokenmaxx) | server | load |"
)


def row(result: dict[str, Any]) -> str:
    bare, maxx, agents = result["bare"], result["tokenmaxx"], result["agents"]
    ms = lambda seconds: f"{seconds * 1000:.0f}"  # noqa: E731
    return (
        f"| {result['path']} | {agents} | {result['workers']} | {core(bare):.0%} | {split(maxx)} | "
        f"{us_per_token(bare):.0f} / {us_per_token(maxx):.0f} | {us_per_token(maxx) / us_per_token(bare):.2f} | "
        f"{per_agent(bare, agents):.2f} / {per_agent(maxx, agents):.2f} | "
        f"{ms(maxx['commit_p50'])} / {ms(maxx['commit_p99'])} ({ms(maxx['commit_max'])}) ms | "
        f"{ms(maxx['lag_p50'])} / {ms(maxx['lag_p99'])} ms | {maxx['gc_s'] / maxx['cpu_s']:.1%} of its CPU | {result['server_core']:.0%} | "
        f"{bare['load']:.1f} / {maxx['load']:.1f} |"
    )


def verdicts(result: dict[str, Any]) -> list[str]:
    """The issue's goals that this configuration speaks to, met or missed."""
    maxx, agents, out = result["tokenmaxx"], result["agents"], []
    label = f"{result['path']}, {agents} agents" + (f", {result['workers']} workers" if result["workers"] > 1 else "")
    if agents == GOAL_WORKERS_AGENTS and result["workers"] > 1:
        machine = core(maxx) + result["server_core"]
        met = per_agent(maxx, agents) >= GOAL_RATE
        out.append(f"{label}: ≥ {GOAL_RATE} tokens/s each on {os.cpu_count()} cores: {'met' if met else 'missed'} "
                   f"({per_agent(maxx, agents):.2f} tokens/s; tokenmaxx {core(maxx):.0%} and the fake server {result['server_core']:.0%} "
                   f"of a core, {machine:.0%} together)")
    if result["workers"] > 1:
        return out
    if agents == GOAL_ONE_CORE_AGENTS:
        met = per_agent(maxx, agents) >= GOAL_RATE and core(maxx) <= 1.0
        out.append(f"{label}: ≥ {GOAL_RATE} tokens/s each within one core: {'met' if met else 'missed'} "
                   f"({per_agent(maxx, agents):.2f} tokens/s, {core(maxx):.0%} of a core)")
    if agents == GOAL_RATIO_AGENTS:
        ratio = us_per_token(maxx) / us_per_token(result["bare"])
        out.append(f"{label}: CPU per token ≤ {GOAL_RATIO} of the bare SDK's: {'met' if ratio <= GOAL_RATIO else 'missed'} ({ratio:.2f})")
    if agents in GOAL_COMMIT_P99:
        goal, p99 = GOAL_COMMIT_P99[agents], maxx["commit_p99"]
        out.append(f"{label}: append-to-commit p99 ≤ {goal * 1000:.0f} ms: {'met' if p99 <= goal else 'missed'} ({p99 * 1000:.0f} ms)")
    return out


def main(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}; "
          f"{args.rate:g} token chunks/s per reply, {args.tokens} per reply, {args.warmup:g} s warm-up, {args.seconds:g} s measured")
    server, port = start_server(args.rate, args.tokens)
    results = []
    try:
        print(HEADER)
        print("|" + "---|" * HEADER.count(" | ") + "---|")
        for path in args.path.split(","):
            for agents in (int(n) for n in args.agents.split(",")):
                for result in measure(path, agents, server.pid, port, args):
                    results.append(result)
                    print(row(result), flush=True)
    finally:
        server.kill()
        server.wait()
    for result in results:
        for line in verdicts(result):
            print(line)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="50,200,500,800", help="comma-separated fleet sizes")
    parser.add_argument("--path", default="openai,anthropic", help="comma-separated: openai, anthropic")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds measured per client")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--tokens", type=int, default=200, help="token chunks per reply")
    parser.add_argument("--rate", type=float, default=20.0, help="token chunks per second per reply")
    parser.add_argument("--workers", default="1", help="comma-separated numbers of worker processes for tokenmaxx (1: none)")
    parser.add_argument("--client", choices=("bare", "tokenmaxx"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    parsed = parse_args()
    if parsed.client:
        from bench.real_path_clients import run_client as run_one

        run_one(parsed.client, parsed.path, int(parsed.agents), parsed.port, parsed.warmup, parsed.seconds, int(parsed.workers))
    else:
        main(parsed)
