"""log-analyst: a script that mines the fleet's own event history for failures by root cause."""

from __future__ import annotations

import re
from importlib.resources import files

from tokenmaxx.agents.sim.context import Call, Context, Step, gave_up, first_line, plural

SCRIPTS = ("svgplot.py", "failures.py")
RUN = "python3 failures.py"
CAUSE_LINE = re.compile(r"^\s+(.+): (\d+)$")
TOTAL_LINE = re.compile(r"^failures: (\d+) across (\d+) (\w+) buckets$", re.MULTILINE)
SCANNED_LINE = re.compile(r"^scanned (\d+) events in (\d+) sessions", re.MULTILINE)


def script_source(name: str) -> str:
    """The text of one of the shipped analysis scripts."""
    return files("tokenmaxx.agents.sim.scripts").joinpath(name).read_text(encoding="utf-8")


def next_step(ctx: Context) -> Step:
    """Write the scripts, run them, then summarise what they found."""
    writes = ctx.writes()
    if not all(name in writes for name in SCRIPTS):
        return _write_scripts(ctx)
    failed = [name for name in SCRIPTS if not writes[name].ok]
    if failed:
        return gave_up(f"I could not save {failed[0]}: {first_line(writes[failed[0]].output)}. Stopping.")
    runs = ctx.calls_to("run_command")
    if not runs:
        return Step(
            "Scripts are in place. Running the analysis against the snapshot of the session history now.",
            (Call("run_command", {"command": RUN}),),
        )
    return _summarise(runs[-1].output, runs[-1].ok)


def _write_scripts(ctx: Context) -> Step:
    opening = ctx.pick(
        "The fleet records every step in its SQLite store, so the failures are already there to mine.",
        "Every provider error, failed tool call, watchdog flag and bad outcome is an event in the store.",
    )
    return Step(
        f"{opening} I'll write a small script that opens the snapshot at $TOKENMAXX_HISTORY read-only, "
        "classifies provider errors, failed tools, flags and failed outcomes by root cause, and buckets them by hour; "
        "svgplot.py draws the chart.",
        tuple(Call("write_file", {"path": name, "content": script_source(name)}) for name in SCRIPTS),
    )


def _summarise(output: str, ok: bool) -> Step:
    if not ok:
        return gave_up(f"The script failed: {first_line(output)}. I have no failure counts to report.")
    totals = TOTAL_LINE.search(output)
    if totals is None:
        return gave_up(f"The script ran but printed no totals ({first_line(output)}), so I can't vouch for the files.")
    count, buckets, unit = int(totals[1]), int(totals[2]), totals[3]
    scanned = SCANNED_LINE.search(output)
    if scanned is None:
        source = f"There is no history to mine ({first_line(output)})"
    else:
        source = f"Scanned {plural(int(scanned[1]), 'event')} in {plural(int(scanned[2]), 'session')}"
    if count == 0:
        return Step(f"{source}: no failures yet. failures.csv has only its header and failures.svg says so.")
    causes = [(m[1], int(m[2])) for m in map(CAUSE_LINE.match, output.splitlines()) if m]
    listed = ", ".join(f"{cause} ({n})" for cause, n in causes)
    return Step(
        f"{source} and found {plural(count, 'failure')} in {plural(buckets, unit + ' bucket')}: "
        f"{listed}. {_leading(causes, count)} "
        "failures.csv has the counts per bucket and cause; failures.svg stacks them, one colour per cause."
    )


def _leading(causes: list[tuple[str, int]], count: int) -> str:
    top = [cause for cause, n in causes if n == causes[0][1]] if causes else []
    if len(top) != 1:
        return f"No single cause leads: {len(top)} causes have {causes[0][1] if causes else 0} each."
    share = 100 * causes[0][1] // count
    return f"The leading cause is {top[0]} with {causes[0][1]} of {count} ({share}%)."
