"""The two clients the real-path bench compares, each run in a process of its own against the fake server.

`bare` is the least a program can do with the official SDK: N tasks that each open a stream,
iterate its chunks and count the text ones, again and again. `tokenmaxx` runs N agents of a
plan through the real Store and Supervisor (headless, heap frozen once settled, as the runner
does), each looping on a one-reply task. Both sample their own CPU and tokens over the same
window after a warm-up and print one JSON line of figures.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fleet_bench import Probes  # noqa: E402
from bench.fleet_probes import GcClock  # noqa: E402
from bench.real_path_server import TOKEN  # noqa: E402

MODEL = "bench-model"
KEY_ENV = "REAL_PATH_BENCH_KEY"
PROMPT = "Say what you see."


@dataclass
class Figures:
    """What one client counted, and the fleet bench's probes of loop lag and of commits seen on the loop."""

    tokens: int = 0
    probes: Probes = field(default_factory=Probes)


async def measured(
    figures: Figures, warmup_s: float, seconds: float, extra: dict[str, Any], workers: Callable[[], list[int]] = list
) -> dict[str, Any]:
    """Sleep through the warm-up, then sample CPU (this process's and its workers'), tokens and the GC's time over `seconds`."""
    await asyncio.sleep(warmup_s)
    figures.probes.clear()
    gc_clock = GcClock()
    gc_clock.install()
    pids = workers()
    cpu, wall, tokens, worker_cpu = time.process_time(), time.perf_counter(), figures.tokens, _cpu_of(pids)
    await asyncio.sleep(seconds)
    gc_clock.remove()
    own_cpu, worker_cpu = time.process_time() - cpu, _cpu_of(pids) - worker_cpu
    return {
        "gc_s": sum(gc_clock.seconds),
        "gc_runs": gc_clock.runs,
        "cpu_s": own_cpu + worker_cpu,
        "worker_cpu_s": worker_cpu,
        "workers": len(pids),
        "wall_s": time.perf_counter() - wall,
        "tokens": figures.tokens - tokens,
        "lag_p50": percentile(figures.probes.lags, 50),
        "lag_p99": percentile(figures.probes.lags, 99),
        "load": os.getloadavg()[0],
        **extra,
    }


def _cpu_of(pids: list[int]) -> float:
    from bench.real_path_bench import process_cpu_s

    return sum(process_cpu_s(pid) for pid in pids)


def percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


# -- the bare SDK ---------------------------------------------------------------------------


async def bare(path: str, agents: int, port: int, warmup_s: float, seconds: float) -> dict[str, Any]:
    figures = Figures()
    client = _client(path, port)
    streams = [asyncio.create_task(_bare_agent(client, path, figures), name=f"bare:{i}") for i in range(agents)]
    lag = asyncio.create_task(figures.probes.lag(), name="lag")
    try:
        return await measured(figures, warmup_s, seconds, {})
    finally:
        for task in (*streams, lag):
            task.cancel()
        await asyncio.gather(*streams, lag, return_exceptions=True)
        await client.close()


def _client(path: str, port: int) -> Any:
    if path == "openai":
        import openai

        return openai.AsyncOpenAI(api_key="bench", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    import anthropic

    return anthropic.AsyncAnthropic(api_key="bench", base_url=f"http://127.0.0.1:{port}", max_retries=0)


async def _bare_agent(client: Any, path: str, figures: Figures) -> None:
    messages = [{"role": "user", "content": PROMPT}]
    while True:
        if path == "openai":
            stream = await client.chat.completions.create(
                model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}, max_tokens=4096
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    figures.tokens += 1
        else:
            stream = await client.messages.create(model=MODEL, messages=messages, max_tokens=4096, stream=True)
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    figures.tokens += 1


# -- tokenmaxx ------------------------------------------------------------------------------


async def tokenmaxx(path: str, agents: int, port: int, warmup_s: float, seconds: float, workers: int = 1) -> dict[str, Any]:
    from tokenmaxx.agents.supervisor import Supervisor
    from tokenmaxx.sessions import events as ev
    from tokenmaxx.sessions.store import Store
    from tokenmaxx.agents.heap import freeze_heap

    os.environ[KEY_ENV] = "bench"
    figures = Figures()

    def count(event: Any, state: Any) -> None:
        if type(event) is ev.Text:
            figures.tokens += len(event.text) // len(TOKEN)

    with tempfile.TemporaryDirectory(prefix="real-path-bench-") as tmp:
        folder = Path(tmp)
        async with await Store.open(folder / "sessions.db") as store:
            supervisor = Supervisor.create(plan_for(folder, path, agents, port, workers), store, headless=True)
            supervisor.log.subscribe(count)
            probes = [asyncio.create_task(figures.probes.lag(), name="lag"), asyncio.create_task(figures.probes.commit(store), name="commit")]
            await supervisor.start()
            settled = asyncio.get_running_loop().call_later(min(warmup_s, 5.0), freeze_heap)
            lags_before = len(store.commit_lags)
            try:
                pool = supervisor.workers
                result = await measured(figures, warmup_s, seconds, {}, lambda: pool.pids if pool is not None else [])
                result.update(_commit_figures(list(store.commit_lags)[lags_before:], figures))
            finally:
                settled.cancel()
                for task in probes:
                    task.cancel()
                await asyncio.gather(*probes, return_exceptions=True)
                await supervisor.finish("stopped")
    return result


def _commit_figures(lags: list[float], figures: Figures) -> dict[str, float]:
    return {
        "commit_p50": percentile(lags, 50),
        "commit_p99": percentile(lags, 99),
        "commit_max": max(lags, default=0.0),
        "seen_committed_p99": percentile(figures.probes.commits, 99),
    }


def plan_for(folder: Path, path: str, agents: int, port: int, workers: int = 1) -> Any:
    """A plan of `agents` agents on the fake server in `workers` processes, each looping on a one-reply task, no tools, no budget."""
    from tokenmaxx.agents.plan import parse_plan

    project = folder / "project"
    project.mkdir(parents=True, exist_ok=True)
    base_url = f"http://127.0.0.1:{port}/v1" if path == "openai" else f"http://127.0.0.1:{port}"
    lines = [
        'name = "real-path-bench"', 'workdir = "project"', 'out = "out"', f"max_parallel = {agents}", f"workers = {workers}",
        "stall_after = 600", "burn_tokens = 1000000000", "",
        "[providers.bench]", f'kind = "{path}"', f'base_url = "{base_url}"', f'api_key_env = "{KEY_ENV}"', "",
        f'[prices."{MODEL}"]', "input = 0.0", "output = 0.0", "",
        "[roles.talker]", f'prompt = "{PROMPT}"', "tools = []",
    ]
    for index in range(agents):
        lines += ["", "[[agents]]", f'name = "a{index:04d}"', 'role = "talker"', 'provider = "bench"', f'model = "{MODEL}"',
                  f'task = "Talk (agent {index})."', "loop = { times = 10000 }"]
    text = "\n".join(lines) + "\n"
    (folder / "fleet.toml").write_text(text)
    return parse_plan(text, folder / "fleet.toml")


def run_client(kind: str, path: str, agents: int, port: int, warmup_s: float, seconds: float, workers: int = 1) -> None:
    """Run one client and print its figures as one JSON line."""
    if kind == "bare":
        figures = asyncio.run(bare(path, agents, port, warmup_s, seconds))
    else:
        figures = asyncio.run(tokenmaxx(path, agents, port, warmup_s, seconds, workers))
    print(json.dumps(figures), flush=True)
