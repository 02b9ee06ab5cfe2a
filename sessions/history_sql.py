"""The SQLite store's history queries: replay's markers and seeks, and the grouped rows of `stats`.

SQLite's own dialect (`INDEXED BY events_by_kind`, `payload ->> '$.x'`, `total()`, `?1`); the
PostgreSQL store keeps the same questions in its own (`sessions.pg_sql`). Each query's columns
are what `sessions.stats` and `sessions.replay` unpack, in this order.
"""

from __future__ import annotations

from collections.abc import Sequence

INTERVENTION_ACTIONS = ("kill", "pause", "reprompt", "restart", "approve", "deny")


def markers_sql(kinds: Sequence[str]) -> str:
    """The marker kinds' events of a session after a seq: (seq, ts, kind, agent, payload)."""
    return (
        "SELECT seq, ts, kind, agent, payload FROM events INDEXED BY events_by_kind "
        f"WHERE session_id = ? AND kind IN ({', '.join(repr(kind) for kind in kinds)}) AND seq > ? "
        "ORDER BY seq"
    )


def events_before_sql(agent: str | None) -> str:
    """The last events at or before a seq, newest first: (seq, ts, kind, payload)."""
    agent_filter = "AND agent = ? " if agent is not None else ""
    return (
        f"SELECT seq, ts, kind, payload FROM events WHERE session_id = ? {agent_filter}"
        "AND seq <= ? ORDER BY seq DESC LIMIT ?"
    )


TIMESTAMPS_SQL = "SELECT ts FROM events WHERE session_id = ? AND seq >= ? AND seq <= ? ORDER BY seq"
SNAPSHOT_SEQS_SQL = "SELECT seq FROM snapshots WHERE session_id = ? AND seq > ? ORDER BY seq"

_IN_SCOPE = "session_id IN (SELECT id FROM sessions WHERE coalesce(last_ts, started_at) >= ?1)"
_DAY = "date(ts, 'unixepoch', 'localtime')"
USAGE_SQL = f"""SELECT session_id, agent, payload ->> '$.provider', payload ->> '$.model', {_DAY},
    total(payload ->> '$.input_tokens'), total(payload ->> '$.output_tokens'),
    total(payload ->> '$.cache_read_tokens'), total(payload ->> '$.cache_write_tokens'),
    total(payload ->> '$.reasoning_tokens'), total(payload ->> '$.cost_usd'),
    total(CASE WHEN payload ->> '$.cost_usd' IS NULL
          THEN (payload ->> '$.input_tokens') + (payload ->> '$.output_tokens') ELSE 0 END),
    max(coalesce(payload ->> '$.simulated', 0))
    FROM events INDEXED BY events_by_kind WHERE {_IN_SCOPE} AND kind = 'usage' AND ts >= ?1 GROUP BY 1, 2, 3, 4, 5"""
AGENTS_SQL = f"""SELECT a.session_id, a.name, a.role, a.provider, a.model, s.name, coalesce(s.last_ts, s.started_at), s.user_name
    FROM agents a JOIN sessions s ON s.id = a.session_id WHERE a.{_IN_SCOPE}"""
STARTS_SQL = f"""SELECT session_id, agent, min(ts) FROM events INDEXED BY events_by_kind
    WHERE {_IN_SCOPE} AND kind = 'agent_status' AND payload ->> '$.status' IN ('starting', 'streaming')
    GROUP BY 1, 2"""
FINISHES_SQL = f"""SELECT session_id, agent, max(seq), ts, payload ->> '$.outcome' FROM events INDEXED BY events_by_kind
    WHERE {_IN_SCOPE} AND kind = 'agent_finished' GROUP BY 1, 2"""
ACTIONS_SQL = f"""SELECT session_id, agent, payload ->> '$.by' = 'watchdog', {_DAY}, ts >= ?1, count(*)
    FROM events INDEXED BY events_by_kind WHERE {_IN_SCOPE} AND kind = 'supervisor_action' AND agent IS NOT NULL
    AND payload ->> '$.action' IN ({", ".join(repr(a) for a in INTERVENTION_ACTIONS)})
    GROUP BY 1, 2, 3, 4, 5"""
DOWNTIME_SQL = f"""SELECT r.session_id, p.ts, r.ts FROM events r INDEXED BY events_by_kind
    JOIN events p ON p.session_id = r.session_id AND p.seq = r.seq - 1
    WHERE r.{_IN_SCOPE} AND r.kind = 'session_resumed'"""
REVIEWS_SQL = f"""SELECT session_id, agent, payload ->> '$.path', max(seq), payload ->> '$.verdict', ts, {_DAY}
    FROM events INDEXED BY events_by_kind WHERE {_IN_SCOPE} AND kind = 'artifact_review' GROUP BY 1, 2, 3"""
_IS_DIFF = """EXISTS (SELECT 1 FROM events d INDEXED BY events_by_kind WHERE d.session_id = events.session_id
    AND d.kind = 'artifact' AND d.agent = events.agent AND d.payload ->> '$.path' = events.payload ->> '$.path'
    AND d.payload ->> '$.diff' IS NOT NULL)"""
DIFFS_SQL = f"""SELECT session_id, agent, payload ->> '$.path', max(seq),
    coalesce(payload ->> '$.diff.added', 0) + coalesce(payload ->> '$.diff.removed', 0)
    FROM events INDEXED BY events_by_kind WHERE {_IN_SCOPE} AND kind = 'artifact' AND payload ->> '$.diff' IS NOT NULL
    GROUP BY 1, 2, 3"""
REWORK_SQL = f"""SELECT session_id, agent, {_DAY}, count(*) FROM events INDEXED BY events_by_kind
    WHERE {_IN_SCOPE} AND kind = 'artifact_review' AND ts >= ?1 AND payload ->> '$.verdict' = 'rejected'
    AND trim(coalesce(payload ->> '$.note', '')) != '' AND {_IS_DIFF} GROUP BY 1, 2, 3"""

STATS_QUERIES = {
    "agents": AGENTS_SQL,
    "usage": USAGE_SQL,
    "reviews": REVIEWS_SQL,
    "actions": ACTIONS_SQL,
    "starts": STARTS_SQL,
    "finishes": FINISHES_SQL,
    "downtime": DOWNTIME_SQL,
    "diffs": DIFFS_SQL,
    "rework": REWORK_SQL,
}
"""Each field of `StatsRows` and the query that fills it."""
