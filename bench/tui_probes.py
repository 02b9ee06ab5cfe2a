"""Measuring instruments for the TUI benchmark: what a terminal would show, key-to-screen and meter lag.

Headless Textual builds every frame (layout, widget rendering, the compositor's update) but skips
turning it into terminal bytes. `FrameTap` wraps the app's `_display` so each update is also
encoded with `render_segments`, as a terminal run would, and, while a probe needs it, applied to a
`ShadowScreen`: the characters a terminal would show, without colours. A key press is "on screen"
when the first frame after it makes the shadow show the change; the meter includes an event when a
frame after the meter was brought up to a state at or after that event's seq (the meter then
refreshes the lines whose figures changed, and that frame draws them).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.segment import ControlType

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import FleetState

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>PX^_c78]|\x1bP[^\x1b]*\x1b\\")


class ShadowScreen:
    """The characters of a terminal of one size, updated from Textual's compositor updates."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.rows = [[" "] * width for _ in range(height)]

    def apply(self, update: Any, console: Any) -> None:
        x = y = 0
        for segment in update.__rich_console__(console, console.options):
            if segment.control:
                for code in segment.control:
                    if code[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = code[1], code[2]
                continue
            if segment.text != "\n":
                x = self.put(x, y, segment.text)

    def put(self, x: int, y: int, text: str) -> int:
        """Write `text` at (x, y); returns the column after it."""
        if not 0 <= y < self.height:
            return x
        row = self.rows[y]
        for char in text:
            if 0 <= x < self.width:
                row[x] = char
            x += cell_len(char) or 1
        return x

    def text(self) -> str:
        return "\n".join("".join(row) for row in self.rows)


@dataclass
class KeyProbe:
    """One key press waiting to show: pressed at `t0`, on screen when `shows(shadow text)` holds."""

    key: str
    t0: float
    shows: Callable[[str], bool]


@dataclass
class FrameTap:
    """Wraps an app's `_display`: encodes every frame for a terminal and runs the probes on it."""

    app: Any
    size: tuple[int, int]
    frames: int = 0
    shadow: ShadowScreen | None = None
    probe: KeyProbe | None = None
    key_latencies: dict[str, list[float]] = field(default_factory=dict)
    on_frame: list[Callable[[float], None]] = field(default_factory=list)

    def install(self) -> None:
        original = self.app._display
        console = self.app.console

        def display(screen: Any, update: Any) -> None:
            original(screen, update)
            if update is None:
                return
            update.render_segments(console)
            self.frames += 1
            now = time.perf_counter()
            if self.shadow is not None:
                self.shadow.apply(update, console)
                self._check_probe(now)
            for callback in self.on_frame:
                callback(now)

        self.app._display = display

    def watch_screen(self) -> None:
        """Start keeping the shadow screen, from what the screen shows now."""
        self.shadow = ShadowScreen(*self.size)
        for y, strip in enumerate(self.app.screen._compositor.render_strips()):
            self.shadow.put(0, y, strip.text)

    def _check_probe(self, now: float) -> None:
        probe = self.probe
        if probe is not None and self.shadow is not None and probe.shows(self.shadow.text()):
            self.key_latencies.setdefault(probe.key, []).append(now - probe.t0)
            self.probe = None


@dataclass
class MeterLag:
    """Time from each token event's emit to the first frame after the meter took a state that includes it."""

    waiting: list[tuple[int, float]] = field(default_factory=list)
    rendered_seq: int = 0
    lags: list[float] = field(default_factory=list)
    recording: bool = False

    def on_event(self, event: ev.Event, state: FleetState) -> None:
        if self.recording and type(event) in (ev.Text, ev.UsageReported):
            self.waiting.append((state.seq, time.perf_counter()))

    def watch_meter(self, meter: Any) -> None:
        """Note the seq of each state the meter is brought up to (it then refreshes the lines whose figures changed)."""
        show = meter.show

        def shown(state: FleetState, now: float) -> bool:
            self.rendered_seq = max(self.rendered_seq, state.seq)
            return show(state, now)

        meter.show = shown

    def on_frame(self, now: float) -> None:
        if not self.waiting or self.waiting[0][0] > self.rendered_seq:
            return
        kept = []
        for seq, emitted in self.waiting:
            if seq <= self.rendered_seq:
                self.lags.append(now - emitted)
            else:
                kept.append((seq, emitted))
        self.waiting = kept


def percentile(values: list[float], pct: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def demo_first_frame(repo: Path, folder: Path, names: tuple[str, ...], timeout: float = 30.0) -> float:
    """Seconds from starting `tokenmaxx demo` in a 200x50 pty until its output has drawn every agent name."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(TERM="xterm-256color", TOKENMAXX_CONFIG_DIR=str(folder / "config"))
    command = [str(Path(sys.executable).parent / "tokenmaxx"), "demo", "--db", str(folder / "s.db"), "--out", str(folder / "out")]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=repo, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        return _until_drawn(master, names, started, timeout)
    finally:
        _stop(process, master)


def _until_drawn(master: int, names: tuple[str, ...], started: float, timeout: float) -> float:
    seen = ""
    while time.perf_counter() - started < timeout:
        ready, _, _ = select.select([master], [], [], 0.05)
        if not ready:
            continue
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:
            break
        seen += ANSI.sub("", chunk.decode("utf-8", "replace"))
        if all(name in seen for name in names) and "fleet" in seen:
            return time.perf_counter() - started
    raise RuntimeError(f"the demo drew no fleet screen within {timeout:.0f} s; last output: {seen[-400:]!r}")


def _stop(process: subprocess.Popen[bytes], master: int) -> None:
    """Quit the demo as a user would (ctrl+q, y), else end it; drain the pty meanwhile."""
    for keys in (b"\x11", b"y"):
        os.write(master, keys)
        _drain(master, 0.3)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    os.close(master)


def _drain(master: int, seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        ready, _, _ = select.select([master], [], [], 0.05)
        if ready:
            try:
                os.read(master, 1 << 16)
            except OSError:
                return
