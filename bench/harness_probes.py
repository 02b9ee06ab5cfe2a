"""What the harness benchmark reads from /proc: the CLI processes below tokenmaxx, their CPU and memory."""

from __future__ import annotations

import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SAMPLE_EVERY_S = 0.2


@dataclass
class Tree:
    """One CLI (a direct child of tokenmaxx) and the processes below it, as sampled."""

    rss_kb: list[int] = field(default_factory=list)
    peak_hwm_kb: int = 0
    cpu_s: dict[int, float] = field(default_factory=dict)
    pids: set[int] = field(default_factory=set)

    @property
    def peak_kb(self) -> int:
        """The largest sampled RSS of the tree, or the kernel's high-water mark of its processes if larger."""
        return max([*self.rss_kb, self.peak_hwm_kb, 0])

    @property
    def steady_kb(self) -> float:
        """The median sampled RSS of the tree while it ran."""
        return statistics.median(self.rss_kb) if self.rss_kb else 0.0


class CliSampler:
    """Samples, in a thread of its own, every process below tokenmaxx except `ignored`, grouped by top-level child."""

    def __init__(self, ignored: set[int]) -> None:
        self.ignored = ignored
        self.trees: dict[int, Tree] = {}
        self.own_cpu_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cli-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sample()
        self.own_cpu_s = time.thread_time()

    def sample(self) -> None:
        for top in _children(os.getpid()):
            if top not in self.ignored:
                self._sample_tree(top)

    def _sample_tree(self, top: int) -> None:
        tree = self.trees.setdefault(top, Tree())
        total = 0
        for pid in _descendants(top):
            stat = _stat(pid)
            if stat is None:
                continue
            cpu_s, rss_kb = stat
            tree.cpu_s[pid] = cpu_s
            tree.pids.add(pid)
            tree.peak_hwm_kb = max(tree.peak_hwm_kb, _hwm_kb(pid))
            total += rss_kb
        if total:
            tree.rss_kb.append(total)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return found


def _descendants(top: int) -> list[int]:
    found, queue = [], [top]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue += _children(pid)
    return found


def _stat(pid: int) -> tuple[float, int] | None:
    """CPU seconds (user + system) and resident KB of a live process; None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] in ("Z", "X"):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S, int(fields[21]) * PAGE_KB


def _hwm_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def percentile(values: list[float], fraction: float) -> float:
    """The value below which `fraction` of `values` lie (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
