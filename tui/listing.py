"""`tokenmaxx sessions`: the store's sessions as a table or as JSON."""

from __future__ import annotations

import json
import time

from tokenmaxx.sessions.store import SessionSummary
from tokenmaxx.sessions.store_api import StoreTarget, describe, open_store, store_exists
from tokenmaxx.tui.headless import Echo, money, safe_cells


def session_json(summary: SessionSummary) -> dict[str, object]:
    return {
        "id": summary.id,
        "name": summary.name,
        "status": summary.status,
        "started_at": summary.started_at,
        "ended_at": summary.ended_at,
        "duration_s": round(summary.duration_s, 3),
        "agents": summary.agents,
        "tokens": {
            "input": summary.input_tokens,
            "output": summary.output_tokens,
            "cache_read": summary.cache_read_tokens,
            "cache_write": summary.cache_write_tokens,
            "reasoning": summary.reasoning_tokens,
        },
        "cost_usd": summary.cost_usd,
        "unknown_price_tokens": summary.unknown_price_tokens,
        "accepted": summary.accepted,
        "rejected": summary.rejected,
    }


async def print_sessions(db_path: StoreTarget, *, as_json: bool, echo: Echo) -> None:
    if not store_exists(db_path):
        echo("[]" if as_json else f"no sessions yet (no database at {describe(db_path)}); start one with: tokenmaxx demo")
        return
    async with await open_store(db_path) as store:
        summaries = await store.sessions()
    if as_json:
        echo(json.dumps([session_json(s) for s in summaries], indent=2))
        return
    if not summaries:
        echo("no sessions yet; start one with: tokenmaxx demo")
        return
    echo(sessions_table(summaries))


def sessions_table(summaries: list[SessionSummary]) -> str:
    header = ("id", "name", "started", "duration", "status", "agents", "tokens", "cost", "accepted/rejected")
    rows = [
        (
            s.id,
            s.name,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(s.started_at)),
            duration_text(s.duration_s),
            s.status,
            str(s.agents),
            f"{s.input_tokens + s.output_tokens:,}",
            money(s.cost_usd, s.unknown_price_tokens),
            f"{s.accepted}/{s.rejected}",
        )
        for s in summaries
    ]
    table = [header, *(safe_cells(row) for row in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table)


def duration_text(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
