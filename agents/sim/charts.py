"""chart-builder: lines of code per commit day from `git log --numstat`, drawn as loc.svg."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from tokenmaxx.agents.sim.context import Call, Context, Exchange, Step, gave_up, first_line, plural
from tokenmaxx.agents.sim.scripts.svgplot import Series, line_chart

GIT_DAYS = (
    'git -C "$TOKENMAXX_PROJECT" rev-parse --verify -q HEAD >/dev/null'
    ' || { echo "no commits to read: $TOKENMAXX_PROJECT is not a git repository with history" >&2; exit 3; }\n'
    "git -C \"$TOKENMAXX_PROJECT\" log --numstat --date=short --format='@%ad'"
    " | awk -F'\\t' '/^@/ {day = substr($0, 2); seen[day] = 1; next}"
    " NF >= 3 && $1 ~ /^[0-9]+$/ {added[day] += $1; deleted[day] += $2}"
    ' END {for (d in seen) printf "%s %d %d\\n", d, added[d], deleted[d]}\''
    " | sort | awk '{print} END {print \"# \" NR \" commit days\"}'"
)
DAY_LINE = re.compile(r"^(\d{4}-\d{2}-\d{2}) (\d+) (\d+)$")
TRAILER = re.compile(r"^# (\d+) commit days$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Day:
    """One commit day: lines added and deleted that day, and the running total after it."""

    day: str
    added: int
    deleted: int
    loc: int


def next_step(ctx: Context) -> Step:
    """Run git, then write the chart and its data, then report."""
    runs = ctx.calls_to("run_command")
    if not runs:
        return _ask_git(ctx)
    git = runs[-1]
    if not git.ok:
        return gave_up(f"git did not give me the history: {first_line(git.output)}. Without commits there is "
                    "nothing to chart, so I'm stopping here.")
    days = parse_days(git.output)
    if not days:
        return gave_up("git ran, but the log has no commit days in it, so there is no line to draw. Stopping.")
    writes = ctx.writes()
    if "loc.svg" not in writes:
        return _write_chart(ctx, days, complete=TRAILER.search(git.output) is not None)
    return _report(ctx, days, writes["loc.svg"])


def parse_days(output: str) -> list[Day]:
    """The commit days in git's per-day output, with the cumulative line count after each."""
    days, loc = [], 0
    for line in output.splitlines():
        match = DAY_LINE.match(line.strip())
        if match:
            added, deleted = int(match[2]), int(match[3])
            loc += added - deleted
            days.append(Day(match[1], added, deleted, loc))
    return days


def loc_svg(days: list[Day]) -> str:
    """The chart: one point per commit day, each carrying data-day and data-loc."""
    xs = [float(date.fromisoformat(d.day).toordinal()) for d in days]
    series = Series("lines of code", [float(d.loc) for d in days], [{"day": d.day, "loc": str(d.loc)} for d in days])
    title = f"Lines of code over time ({days[0].day} to {days[-1].day})"
    return line_chart(title, xs, [d.day for d in days], [series], x_title="commit day", y_title="lines of code")


def loc_csv(days: list[Day]) -> str:
    """The data behind the chart, one row per commit day."""
    rows = ["date,lines,added,deleted"] + [f"{d.day},{d.loc},{d.added},{d.deleted}" for d in days]
    return "\n".join(rows) + "\n"


def _ask_git(ctx: Context) -> Step:
    opening = ctx.pick(
        "I'll get the history straight from git: lines added and deleted per commit, summed per day.",
        "To chart lines of code over time I need git's per-commit line counts, grouped by day.",
    )
    return Step(
        f"{opening} Running `git log --numstat` on the project and letting awk total each day.",
        (Call("run_command", {"command": GIT_DAYS}),),
    )


def _write_chart(ctx: Context, days: list[Day], *, complete: bool) -> Step:
    peak = max(days, key=lambda d: d.loc)
    busiest = max(days, key=lambda d: d.added + d.deleted)
    text = (
        f"The log covers {plural(len(days), 'commit day')}, from {days[0].day} to {days[-1].day}. Counting added minus "
        f"deleted lines, the project ends at {days[-1].loc:,} lines; the peak was {peak.loc:,} on {peak.day}, "
        f"and the busiest day was {busiest.day} (+{busiest.added:,}/-{busiest.deleted:,}). "
    )
    if not complete:
        text += "The command output was cut off, so the chart covers only the days I received. "
    text += ctx.pick("Writing loc.csv and loc.svg now.", "Now writing the data as loc.csv and the chart as loc.svg.")
    calls = (
        Call("write_file", {"path": "loc.csv", "content": loc_csv(days)}),
        Call("write_file", {"path": "loc.svg", "content": loc_svg(days)}),
    )
    return Step(text, calls)


def _report(ctx: Context, days: list[Day], written: Exchange) -> Step:
    if not written.ok:
        return gave_up(f"Writing loc.svg failed: {first_line(written.output)}. I can't deliver the chart.")
    growth = days[-1].loc - days[0].loc
    return Step(
        f"loc.svg has {plural(len(days), 'point')}, one per commit day from {days[0].day} to {days[-1].day}, and "
        f"loc.csv holds the same numbers. Lines of code went from {days[0].loc:,} after the first day to "
        f"{days[-1].loc:,} ({growth:+,}). Days without commits have no point, so the x axis is by date, not by index."
    )
