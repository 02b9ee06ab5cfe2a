"""Benchmark of harness agents: what supervising N Claude Code and N Codex agents costs tokenmaxx, and the CLIs.

Run: python bench/harness_bench.py [--agents N] [--tokens T] [--gap S] [--harness claude-code|codex]
(defaults 10 agents, 300 tokens, 0.03 s, both harnesses), with CLAUDE_CODE_MAX_RETRIES=0. Needs the extra and the Codex CLI
(see README). Per harness, a plan of N agents of that harness, all in parallel, runs headless
with the real Store and Supervisor against bench/harness_fake.py, a model server in a process
of its own: each agent runs one shell command, then receives a text of about T tokens
streamed in pieces S seconds apart.

Printed per harness: wall time; the CPU of importing the harness's runner (once per process,
outside the measure); tokenmaxx's own CPU (getrusage(RUSAGE_SELF), less the
sampler thread's) in total, per agent and as % of one core; the CLIs' CPU, summed from
/proc samples of every process below tokenmaxx and, as a check, from
getrusage(RUSAGE_CHILDREN) once they are reaped; the memory of each agent's CLI process tree
(the CLI, its wrapper or launcher, its shells) peak and steady (median of samples every
0.2 s); tokenmaxx's own peak RSS growth; start-to-first-event latency (from the agent's
fresh start to its first `streaming` status or text) p50 and p95.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tokenmaxx.agents.conversation import FRESH_START  # noqa: E402
from tokenmaxx.agents.plan import parse_plan  # noqa: E402
from tokenmaxx.agents.supervisor import Supervisor  # noqa: E402
from bench.harness_probes import CliSampler, percentile  # noqa: E402
from tokenmaxx.sessions import events as ev  # noqa: E402
from tokenmaxx.sessions.store import Store  # noqa: E402

FAKE = Path(__file__).with_name("harness_fake.py")
HARNESSES = {"claude-code": ("claude", "anthropic", "claude-sonnet-4-6"), "codex": ("codex", "openai", "gpt-4o")}
KEY_ENV = "BENCH_MODEL_KEY"
RUN_GUARD_S = 300


@dataclass
class Result:
    """One harness's figures."""

    harness: str
    agents: int
    import_cpu_s: float
    done: int
    wall_s: float
    self_cpu_s: float
    cli_cpu_s: float
    reaped_cpu_s: float
    peak_mb: list[float]
    steady_mb: list[float]
    self_rss_growth_mb: float
    latency_s: list[float]


def plan_text(harness: str, base_url: str, agents: int) -> str:
    _, kind, model = HARNESSES[harness]
    head = f'name = "bench-{harness}"\nworkdir = "project"\nout = "out"\nmax_parallel = {agents}\n\n'
    provider = f'[providers.fake]\nkind = "{kind}"\nbase_url = "{base_url}"\napi_key_env = "{KEY_ENV}"\n\n'
    entries = (
        f'[[agents]]\nname = "a{i:02d}"\nrole = "critic"\nprovider = "fake"\nmodel = "{model}"\nharness = "{harness}"\n'
        f'task = "Write bench.txt, then review it."\npolicy = {{ run_command = "auto" }}\n'
        for i in range(agents)
    )
    return head + provider + "\n".join(entries)


def start_fake(harness: str, tokens: int, gap_s: float) -> tuple[subprocess.Popen[str], str]:
    """The model server process and its base URL."""
    command = [sys.executable, str(FAKE), HARNESSES[harness][0], "--tokens", str(tokens), "--gap", str(gap_s)]
    fake = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert fake.stdout is not None
    return fake, fake.stdout.readline().strip()


async def run_harness(harness: str, agents: int, tokens: int, gap_s: float) -> Result:
    import_cpu_s = import_runner(harness)
    fake, base_url = start_fake(harness, tokens, gap_s)
    try:
        with tempfile.TemporaryDirectory(prefix="harness-bench-") as folder:
            return await _measured(harness, agents, import_cpu_s, Path(folder), base_url, fake.pid)
    finally:
        assert fake.stdin is not None
        fake.stdin.close()
        fake.wait(timeout=10)


def import_runner(harness: str) -> float:
    """Import the harness's runner (once per process, not per agent, so kept out of the measure); its CPU seconds."""
    before = time.process_time()
    if harness == "claude-code":
        import tokenmaxx.agents.runners.claude_code  # noqa: F401
    else:
        import tokenmaxx.agents.runners.codex  # noqa: F401
    return time.process_time() - before


async def _measured(harness: str, agents: int, import_cpu_s: float, folder: Path, base_url: str, fake_pid: int) -> Result:
    (folder / "project").mkdir()
    (folder / "project" / "README.md").write_text("# bench\n")
    plan_path = folder / "fleet.toml"
    plan_path.write_text(plan_text(harness, base_url, agents))
    plan = parse_plan(plan_path.read_text(), plan_path)
    sampler = CliSampler(ignored={fake_pid})
    async with await Store.open(folder / "s.db") as store:
        supervisor = Supervisor.create(plan, store, headless=True, auto_yes=True)
        own_before, reaped_before, rss_before = _rusage()
        started = time.monotonic()
        sampler.start()
        await supervisor.start()
        async with asyncio.timeout(RUN_GUARD_S):
            await supervisor.wait()
        await supervisor.finish()
        await store.flush()
        wall_s = time.monotonic() - started
        sampler.stop()
        own_after, reaped_after, rss_after = _rusage()
        events = await store.events(supervisor.session_id)
    trees = list(sampler.trees.values())
    return Result(
        harness=harness,
        agents=agents,
        import_cpu_s=import_cpu_s,
        done=sum(1 for a in supervisor.state.agents.values() if a.outcome == "done"),
        wall_s=wall_s,
        self_cpu_s=own_after - own_before - sampler.own_cpu_s,
        cli_cpu_s=sum(sum(t.cpu_s.values()) for t in trees),
        reaped_cpu_s=reaped_after - reaped_before,
        peak_mb=[t.peak_kb / 1024 for t in trees],
        steady_mb=[t.steady_kb / 1024 for t in trees],
        self_rss_growth_mb=(rss_after - rss_before) / 1024,
        latency_s=first_event_latencies(events),
    )


def _rusage() -> tuple[float, float, int]:
    """CPU seconds of this process, CPU seconds of its reaped children, and this process's peak RSS in KB."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, reaped.ru_utime + reaped.ru_stime, own.ru_maxrss


def first_event_latencies(events: list[ev.Event]) -> list[float]:
    """Per agent, seconds from its fresh start to its first `streaming` status or text."""
    launched: dict[str, float] = {}
    first: dict[str, float] = {}
    for event in events:
        agent = getattr(event, "agent", None)
        if isinstance(event, ev.AgentStatusChanged) and event.reason == FRESH_START:
            launched.setdefault(event.agent, event.ts)
        elif agent in launched and agent not in first and _is_first_output(event):
            first[agent] = event.ts
    return [first[a] - launched[a] for a in first]


def _is_first_output(event: ev.Event) -> bool:
    return isinstance(event, ev.Text) or (isinstance(event, ev.AgentStatusChanged) and event.status == "streaming")


ROWS = (
    ("agents done", lambda r: f"{r.done}/{r.agents}"),
    ("wall time", lambda r: f"{r.wall_s:.1f} s"),
    ("runner import, once", lambda r: f"{r.import_cpu_s:.2f} s"),
    ("tokenmaxx CPU, total", lambda r: f"{r.self_cpu_s:.2f} s"),
    ("tokenmaxx CPU per agent", lambda r: f"{r.self_cpu_s / r.agents * 1000:.0f} ms"),
    ("tokenmaxx CPU, % of a core", lambda r: f"{100 * r.self_cpu_s / r.wall_s:.1f} %"),
    ("tokenmaxx peak RSS growth", lambda r: f"{r.self_rss_growth_mb:.0f} MB"),
    ("CLI CPU per agent (/proc)", lambda r: f"{r.cli_cpu_s / r.agents:.2f} s"),
    ("CLI CPU per agent (reaped)", lambda r: f"{r.reaped_cpu_s / r.agents:.2f} s"),
    ("CLI RSS per agent, peak", lambda r: f"{statistics.median(r.peak_mb):.0f} MB (max {max(r.peak_mb):.0f})"),
    ("CLI RSS per agent, steady", lambda r: f"{statistics.median(r.steady_mb):.0f} MB"),
    ("first event p50", lambda r: f"{percentile(r.latency_s, 0.5):.2f} s"),
    ("first event p95", lambda r: f"{percentile(r.latency_s, 0.95):.2f} s"),
)


def table(results: list[Result]) -> str:
    width = max(len(name) for name, _ in ROWS)
    header = " " * width + "".join(f"  {r.harness:>22}" for r in results)
    lines = [header, "-" * len(header)]
    lines += [f"{name:<{width}}" + "".join(f"  {show(r):>22}" for r in results) for name, show in ROWS]
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--agents", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--gap", type=float, default=0.03)
    parser.add_argument("--harness", choices=tuple(HARNESSES), action="append")
    args = parser.parse_args()
    results = []
    for harness in args.harness or list(HARNESSES):
        results.append(await run_harness(harness, args.agents, args.tokens, args.gap))
        print(f"{harness}: done", file=sys.stderr, flush=True)
    print(table(results))


if __name__ == "__main__":
    os.environ.setdefault(KEY_ENV, "sk-bench-not-a-real-key")
    asyncio.run(main())
