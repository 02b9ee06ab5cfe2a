"""Failures by root cause over time, mined read-only from a snapshot of tokenmaxx's session database.

Reads the `events` table of $TOKENMAXX_HISTORY (opened read-only and immutable) and writes
failures.csv (bucket,root_cause,count) and failures.svg beside itself; prints a short summary. Standard library only, plus svgplot.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
import sqlite3
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

try:
    from svgplot import Series, message_chart, stacked_bars
except ModuleNotFoundError:  # imported as part of the package rather than run beside svgplot.py
    from tokenmaxx.agents.sim.scripts.svgplot import Series, message_chart, stacked_bars

FAILED_OUTCOMES = frozenset({"failed", "killed", "over_budget"})
KINDS = ("provider_error", "tool_result", "agent_flagged", "agent_finished")
ENDINGS = (("[timed out", "timeout"), ("[killed by signal", "killed"), ("[exit code", "exit code"))
FILLER = frozenset({"a", "an", "the", "for", "by", "of", "or", "to", "in", "is"})
DAY_BUCKETS_AFTER_S = 3 * 86_400
TITLE = "Failures by root cause"


def root_cause(kind: str, payload: dict) -> str | None:
    """The root cause of one event, or None when the event is not a failure."""
    if kind == "provider_error":
        return str(payload.get("error_kind", "provider error"))
    if kind == "tool_result" and payload.get("ok") is False:
        return "tool:" + tool_reason(str(payload.get("output", "")))
    if kind == "agent_flagged":
        return str(payload.get("flag", "flagged"))
    if kind == "agent_finished" and payload.get("outcome") in FAILED_OUTCOMES:
        return str(payload["outcome"])
    return None


def tool_reason(output: str) -> str:
    """Why a tool failed: how a command ended, else the first words of the error ('refused', 'no such file')."""
    for marker, reason in ENDINGS:
        if marker in output:
            return reason
    first = output.strip().splitlines()[0] if output.strip() else ""
    words: list[str] = []
    for token in re.split(r"[:;,.]", first, maxsplit=1)[0].lower().split():
        if not re.fullmatch(r"[a-z_]+", token) or token in FILLER or len(words) == 3:
            break
        words.append(token)
    return " ".join(words) or "failed"


def read_failures(db: Path) -> tuple[int, int, list[tuple[float, str]]]:
    """Events scanned, sessions seen, and (timestamp, root cause) of every failure."""
    marks = ",".join("?" * len(KINDS))
    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro&immutable=1", uri=True)) as conn:
        scanned, sessions = conn.execute("SELECT count(*), count(DISTINCT session_id) FROM events").fetchone()
        rows = conn.execute(f"SELECT ts, kind, payload FROM events WHERE kind IN ({marks}) ORDER BY ts", KINDS)
        failures = []
        for ts, kind, payload in rows:
            cause = root_cause(kind, json.loads(payload))
            if cause is not None:
                failures.append((float(ts), cause))
    return scanned, sessions, failures


def bucket_of(ts: float, by_day: bool) -> str:
    """The UTC hour (or day) a timestamp falls in."""
    return time.strftime("%Y-%m-%d" if by_day else "%Y-%m-%d %H:00", time.gmtime(ts))


def count_by_bucket(failures: list[tuple[float, str]]) -> tuple[str, Counter]:
    """The bucket size and the failure count per (bucket, root cause)."""
    spread = failures[-1][0] - failures[0][0] if failures else 0.0
    by_day = spread > DAY_BUCKETS_AFTER_S
    counts = Counter((bucket_of(ts, by_day), cause) for ts, cause in failures)
    return ("day" if by_day else "hour"), counts


def write_csv(path: Path, counts: Counter) -> None:
    """Write bucket,root_cause,count rows in time order."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["bucket", "root_cause", "count"])
        for (bucket, cause), count in sorted(counts.items()):
            writer.writerow([bucket, cause, count])


def chart(counts: Counter, unit: str) -> str:
    """Stacked bars per time bucket, one colour per root cause, or a 'no failures yet' notice."""
    if not counts:
        return message_chart(TITLE, "No failures yet: the fleet's history has none recorded.")
    buckets = sorted({bucket for bucket, _ in counts})
    causes = sorted({cause for _, cause in counts}, key=lambda c: (-total(counts, c), c))
    series = [
        Series(
            cause,
            [float(counts[(b, cause)]) for b in buckets],
            [{"bucket": b, "cause": cause, "count": str(counts[(b, cause)])} for b in buckets],
        )
        for cause in causes
    ]
    return stacked_bars(TITLE, buckets, series, x_title=f"time (UTC, per {unit})", y_title="failures")


def total(counts: Counter, cause: str) -> int:
    """All failures with this root cause."""
    return sum(n for (_, c), n in counts.items() if c == cause)


def main() -> int:
    here = Path(__file__).resolve().parent
    db_path = os.environ.get("TOKENMAXX_HISTORY", "")
    if db_path and Path(db_path).is_file():
        try:
            scanned, sessions, failures = read_failures(Path(db_path))
        except sqlite3.Error as error:
            print(f"cannot read the events of {db_path}: {error}", file=sys.stderr)
            return 1
        print(f"scanned {scanned} events in {sessions} sessions of {db_path}")
    else:
        failures = []
        why = os.environ.get("TOKENMAXX_HISTORY_NOTE") or "the plan does not give this agent the history"
        print(f"no history snapshot at {db_path or '$TOKENMAXX_HISTORY'} ({why}); no history to mine")
    unit, counts = count_by_bucket(failures)
    write_csv(here / "failures.csv", counts)
    (here / "failures.svg").write_text(chart(counts, unit))
    buckets = {bucket for bucket, _ in counts}
    print(f"failures: {len(failures)} across {len(buckets)} {unit} buckets")
    causes = sorted({c for _, c in counts}, key=lambda c: (-total(counts, c), c))
    for cause in causes:
        print(f"  {cause}: {total(counts, cause)}")
    print(f"wrote failures.csv ({len(counts)} rows) and failures.svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
