"""The history commands behind the CLI: list with filters, export, import, stats and a headless replay.

Each function opens the store, does one job and prints through `echo` (or writes a stream); user
mistakes raise `HistoryError` or the store's `StoreError`, both one clear line for the CLI.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO

from tokenmaxx.sessions.export import ImportFileError, iter_jsonl, to_markdown, write_jsonl
from tokenmaxx.sessions.replay import Replay
from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.stats import (
    DEFAULT_DIMENSIONS,
    DIMENSIONS,
    Group,
    SessionFilter,
    Stats,
    compute_stats,
)
from tokenmaxx.sessions.store import ImportRejected, SessionSummary
from tokenmaxx.sessions.store_api import (
    SessionStore,
    StoreTarget,
    describe,
    open_store,
    store_exists,
)
from tokenmaxx.sessions.sync import sync
from tokenmaxx.tui.config import load_config
from tokenmaxx.tui.headless import Echo, cost_cell, money, safe_cells, summary_table
from tokenmaxx.tui.listing import session_json, sessions_table

ExportFormat = Literal["jsonl", "md"]
SortKey = Literal["started", "duration", "cost", "tokens", "name"]
SORT_KEYS: dict[str, Callable[[SessionSummary], object]] = {
    "started": lambda s: s.started_at,
    "duration": lambda s: s.duration_s,
    "cost": lambda s: s.cost_usd,
    "tokens": lambda s: s.input_tokens + s.output_tokens,
    "name": lambda s: s.name.lower(),
}
_RELATIVE = re.compile(r"^(\d+)([hdw])$")
_UNIT_S = {"h": 3600, "d": 86_400, "w": 7 * 86_400}


class HistoryError(Exception):
    """A history command cannot do what was asked; the message is one line for the user."""


def parse_since(text: str, now: float | None = None) -> float:
    """A --since value as epoch seconds: YYYY-MM-DD (local midnight) or relative like 7d, 12h, 2w."""
    value = text.strip().lower()
    relative = _RELATIVE.match(value)
    if relative:
        return (time.time() if now is None else now) - int(relative.group(1)) * _UNIT_S[relative.group(2)]
    try:
        return datetime.strptime(value, "%Y-%m-%d").timestamp()
    except ValueError:
        raise HistoryError(f"--since {text!r}: give a date like 2026-01-31 or a span like 7d, 12h or 2w") from None


def _existing(db_path: StoreTarget) -> Path:
    if not store_exists(db_path):
        raise HistoryError(f"no sessions yet: no database at {describe(db_path)} (start one with: tokenmaxx demo)")
    return db_path


def session_filter(users: tuple[str, ...] = (), hosts: tuple[str, ...] = (), team: str | None = None) -> SessionFilter | None:
    """Keep the sessions of these users (and of the team's members, from the config's [teams]) run on these hosts; None keeps all."""
    wanted = set(users)
    if team is not None:
        config = load_config()
        if team not in config.settings.teams:
            known = ", ".join(sorted(config.settings.teams)) or "none yet"
            raise HistoryError(f"--team {team!r}: no such team in {config.path} (teams: {known}); add [teams] {team} = [\"user\", ...]")
        wanted |= set(config.settings.teams[team])
    if not wanted and not hosts and team is None:
        return None
    return lambda s: (not wanted and team is None or s.user in wanted) and (not hosts or s.host in hosts)


async def list_sessions(
    db_path: StoreTarget,
    *,
    echo: Echo,
    as_json: bool = False,
    status: str | None = None,
    since: str | None = None,
    sort: SortKey = "started",
    only: SessionFilter | None = None,
) -> None:
    """Print the sessions, optionally one status only, started since a date, sorted (largest or newest first)."""
    after = parse_since(since) if since else None
    if not store_exists(db_path):
        echo("[]" if as_json else f"no sessions yet (no database at {describe(db_path)}); start one with: tokenmaxx demo")
        return
    async with await open_store(db_path) as store:
        summaries = await store.sessions()
    chosen = [
        s
        for s in summaries
        if (status is None or s.status == status) and (after is None or s.started_at >= after) and (only is None or only(s))
    ]
    chosen.sort(key=SORT_KEYS[sort], reverse=sort != "name")
    if as_json:
        echo(json.dumps([session_json(s) for s in chosen], indent=2))
    elif chosen:
        echo(sessions_table(chosen))
    else:
        echo("no sessions match" if summaries else "no sessions yet; start one with: tokenmaxx demo")


async def export_session(db_path: StoreTarget, session: str, fmt: ExportFormat, out: Path | None, stdout: TextIO) -> str:
    """Write a session (id or unique prefix) as JSONL or a Markdown transcript to `out` or `stdout`; returns its id."""
    async with await open_store(_existing(db_path)) as store:
        session_id = await store.resolve(session)
        if out is None:
            await _write_export(store, session_id, fmt, stdout)
            return session_id
        try:
            with out.open("w", encoding="utf-8") as file:
                await _write_export(store, session_id, fmt, file)
        except OSError as error:
            raise HistoryError(f"cannot write {out}: {error.strerror or error}") from error
    return session_id


async def _write_export(store: SessionStore, session_id: str, fmt: ExportFormat, stream: TextIO) -> None:
    if fmt == "md":
        stream.write(to_markdown(await store.events(session_id)))
        return
    batch = []
    async for event in store.iter_events(session_id):
        batch.append(event)
        if len(batch) >= 2000:
            write_jsonl(batch, stream)
            batch.clear()
    write_jsonl(batch, stream)


async def import_session(db_path: StoreTarget, file: Path) -> str:
    """Import a JSONL export as one session (same id and seqs) with replay snapshots; returns its id."""
    events = iter_jsonl(file)
    try:
        first = next(events, None)  # an unreadable file fails here, before a database is made for it
    except ImportFileError as error:
        raise HistoryError(str(error)) from error
    async with await open_store(db_path) as store:
        try:
            session_id = await store.import_events(itertools.chain([first] if first else [], events))
        except ImportFileError as error:
            raise HistoryError(str(error)) from error
        except ImportRejected as error:
            raise HistoryError(f"{file}: {error}") from error
        replay = await Replay.open(store, session_id)
        await replay.ensure_snapshots()
    return session_id


async def replay_headless(db_path: StoreTarget, session: str, at: int | None, echo: Echo) -> None:
    """Print the fleet as it stood after event `at` (default: the last) and the markers up to there."""
    async with await open_store(_existing(db_path)) as store:
        replay = await Replay.open(store, session)
        state = await replay.state_at(replay.last_seq if at is None else at)
        markers = [m for m in await replay.markers() if m.seq <= state.seq]
    start = state.started_at or (markers[0].ts if markers else state.last_ts)
    where = f"at event {state.seq:,} of {replay.last_seq:,}"
    echo(terminal_safe_line(f"session {replay.session_id} ({state.name}) {where}, status {state.status}"))
    for marker in markers:
        echo(terminal_safe_line(f"{marker.ts - start:8.1f}s  #{marker.seq:<7} {marker.kind:<12} {marker.label}"))
    echo(summary_table(state))


async def print_stats(
    db_path: StoreTarget,
    *,
    echo: Echo,
    since: str | None = None,
    as_json: bool = False,
    only: SessionFilter | None = None,
    by: tuple[str, ...] = DEFAULT_DIMENSIONS,
) -> None:
    """Print spend beside outcomes by role, model, plan and day (or the dimensions `by` names) of the sessions `only` keeps."""
    after = parse_since(since) if since else None
    if not store_exists(db_path):
        nothing = Stats(after, Group("total"), {dim: [] for dim in DIMENSIONS})
        echo(json.dumps(nothing.to_json(by), indent=2) if as_json else "no sessions yet")
        return
    async with await open_store(db_path) as store:
        stats = await compute_stats(store, after, only)
    echo(json.dumps(stats.to_json(by), indent=2) if as_json else stats_text(stats, by))


def stats_text(stats: Stats, by: tuple[str, ...] = DEFAULT_DIMENSIONS) -> str:
    """What the tokens bought, one table per dimension, each ending in the total."""
    since = f" since {time.strftime('%Y-%m-%d %H:%M', time.localtime(stats.since))}" if stats.since is not None else ""
    total = stats.total
    if not total.sessions:
        return f"no sessions{since}"
    lines = [
        f"What did these tokens buy{since}? {_plural(len(total.sessions), 'session')}, "
        f"{_plural(len(total.agents), 'agent')}, {total.agent_hours:.2f} agent-hours",
    ]
    for dim in by:
        lines += ["", _table(dim, [*stats.by[dim], total])]
    if total.changes_accepted or total.changes_rejected or total.rework:
        lines += _change_tables(stats)
    if stats.costliest:
        lines += ["", "costliest per accepted deliverable: " + ", ".join(f"{key} {money(usd)}" for key, usd in stats.costliest)]
    lines += ["", _FOOTNOTE]
    return "\n".join(lines)


_HEADER = (
    "tokens in/out",
    "cache hit",
    "cost",
    "accepted/rejected",
    "$/accepted",
    "interventions/agent-h",
    "done unaided",
)
_FOOTNOTE = (
    "cache hit: cached input over all input · interventions: kill, pause, reprompt, restart, approve, deny "
    "(yours + the watchdog's) per hour agents ran · done unaided: agents that finished done without one, "
    "of those that ran and finished"
)


CHANGE_DIMENSIONS = ("role", "model", "harness")
_CHANGE_HEADER = ("changes accepted/rejected", "rework rounds", "$/accepted change", "lines/$")


def _change_tables(stats: Stats) -> list[str]:
    """The coding agents' economics: their diffs accepted and rejected, rework, $ per accepted change, lines per $."""
    lines: list[str] = []
    for dim in CHANGE_DIMENSIONS:
        groups = [g for g in stats.by[dim] if g.changes_accepted or g.changes_rejected or g.rework]
        lines += ["", _table(f"{dim} (changes)", [*groups, stats.total], _change_cells, _CHANGE_HEADER)]
    return lines


def _change_cells(group: Group) -> tuple[str, ...]:
    per_change = group.usd_per_change
    per_usd = group.lines_per_usd
    return (
        group.key,
        f"{group.changes_accepted}/{group.changes_rejected}",
        str(group.rework),
        money(per_change) if per_change is not None else "-",
        f"{per_usd:,.0f}" if per_usd is not None else "-",
    )


def _table(
    dim: str, groups: list[Group], cells: Callable[[Group], tuple[str, ...]] | None = None, header: tuple[str, ...] = _HEADER
) -> str:
    rows = [(f"by {dim}", *header), *(safe_cells((cells or _cells)(group)) for group in groups)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    text = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    return "\n".join([*text[:-1], "-" * len(text[0]), text[-1]])


def _cells(group: Group) -> tuple[str, ...]:
    rate = group.interventions_per_agent_hour
    mine = f" ({group.interventions} yours)" if group.interventions else ""
    return (
        group.key,
        f"{group.tokens['input']:,}/{group.tokens['output']:,}",
        _percent(group.cache_hit_rate),
        cost_cell(group.cost_usd, group.unknown_price_tokens, group.simulated),
        f"{group.accepted}/{group.rejected}",
        money(group.usd_per_accepted) if group.usd_per_accepted is not None else "-",
        (f"{rate:.1f}" if rate is not None else "-") + mine,
        f"{group.finished_unaided}/{group.finished}" + (f" {_percent(group.unaided_share)}" if group.finished else ""),
    )


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


async def sync_sessions(source: StoreTarget, target: StoreTarget, *, echo: Echo) -> None:
    """Copy the sessions of `source` into `target` (see `sessions.sync`), one line per session and a summary."""
    if not store_exists(source):
        raise HistoryError(f"no sessions to sync: no database at {describe(source)}")
    async with await open_store(source) as origin, await open_store(target) as destination:
        report = await sync(origin, destination, lambda session_id, done: echo(f"{session_id}  {done}"))
    echo(
        f"{describe(target)}: {len(report.copied)} copied, {len(report.completed)} completed, "
        f"{len(report.skipped)} already there"
    )
