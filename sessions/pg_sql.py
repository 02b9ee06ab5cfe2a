"""The PostgreSQL store's schema, its forward migrations and its queries, in PostgreSQL's dialect.

The same tables as the SQLite file (`sessions.schema`), with `jsonb` payloads, plus who ran each
session (`user_name`, `host`) and when its writer last committed (`heartbeat_at`). The schema's
version is the one row of `tokenmaxx_schema`; openers migrate under a transaction-scoped advisory
lock, so that fleets opening one database at once migrate it once. Queries use `%(name)s`
parameters and return the columns `sessions.stats`, `sessions.replay` and `summary_from_row` unpack.
"""

from __future__ import annotations

from tokenmaxx.sessions.history_sql import INTERVENTION_ACTIONS
from tokenmaxx.sessions.schema import ROLLUP_COLUMNS, TOKEN_FIELDS

MIGRATION_LOCK = 0x746F6B656E6D61  # pg_advisory_xact_lock key: one opener migrates at a time
_COUNTERS = ", ".join(f"{name} BIGINT NOT NULL DEFAULT 0" for name in ("agents", *TOKEN_FIELDS, "unknown_price_tokens", "accepted", "rejected", "last_seq"))

V1_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS tokenmaxx_schema (version INTEGER NOT NULL)",
    f"""CREATE TABLE sessions (
        id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', plan TEXT, cwd TEXT NOT NULL DEFAULT '',
        version TEXT NOT NULL DEFAULT '', prices TEXT, started_at DOUBLE PRECISION NOT NULL,
        ended_at DOUBLE PRECISION, status TEXT NOT NULL DEFAULT 'running', pid INTEGER, host TEXT,
        {_COUNTERS}, cost_usd DOUBLE PRECISION NOT NULL DEFAULT 0, last_ts DOUBLE PRECISION)""",
    """CREATE TABLE events (
        session_id TEXT NOT NULL, seq BIGINT NOT NULL, ts DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,
        agent TEXT, payload JSONB NOT NULL, PRIMARY KEY (session_id, seq))""",
    """CREATE TABLE snapshots (
        session_id TEXT NOT NULL, seq BIGINT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (session_id, seq))""",
    """CREATE TABLE agents (
        session_id TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL, provider TEXT NOT NULL,
        model TEXT NOT NULL, PRIMARY KEY (session_id, name))""",
    """CREATE TABLE reviews (
        session_id TEXT NOT NULL, agent TEXT NOT NULL, path TEXT NOT NULL, verdict TEXT NOT NULL,
        PRIMARY KEY (session_id, agent, path))""",
    "CREATE INDEX events_by_agent ON events (session_id, agent, seq)",
    "CREATE INDEX events_by_kind ON events (session_id, kind, seq)",
    "CREATE INDEX sessions_by_start ON sessions (started_at)",
)
V2_STATEMENTS = (
    "ALTER TABLE sessions ADD COLUMN user_name TEXT",
    "ALTER TABLE sessions ADD COLUMN heartbeat_at DOUBLE PRECISION",
)
MIGRATIONS: tuple[tuple[str, ...], ...] = (V1_STATEMENTS, V2_STATEMENTS)
SCHEMA_VERSION = len(MIGRATIONS)

SCHEMA_TABLE_EXISTS = "SELECT to_regclass('tokenmaxx_schema') IS NOT NULL"
SESSIONS_TABLE_EXISTS = "SELECT to_regclass('sessions') IS NOT NULL"
READ_VERSION = "SELECT coalesce(max(version), 0) FROM tokenmaxx_schema"
CLEAR_VERSION = "DELETE FROM tokenmaxx_schema"
SET_VERSION = "INSERT INTO tokenmaxx_schema (version) VALUES (%s)"

COPY_EVENTS = "COPY events (session_id, seq, ts, kind, agent, payload) FROM STDIN"
UPSERT_SNAPSHOT = (
    "INSERT INTO snapshots (session_id, seq, state) VALUES (%s, %s, %s) "
    "ON CONFLICT (session_id, seq) DO UPDATE SET state = excluded.state"
)
EVENT_EXISTS = "SELECT 1 FROM events WHERE session_id = %s AND seq = %s"
INSERT_SESSION = (
    "INSERT INTO sessions (id, started_at, pid, host, user_name) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
)
UPDATE_STARTED = "UPDATE sessions SET name = %s, plan = %s, cwd = %s, version = %s, prices = %s, started_at = %s WHERE id = %s"
UPDATE_STATUS = "UPDATE sessions SET status = %s, ended_at = %s WHERE id = %s"
UPSERT_AGENT = (
    "INSERT INTO agents (session_id, name, role, provider, model) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (session_id, name) "
    "DO UPDATE SET role = excluded.role, provider = excluded.provider, model = excluded.model"
)
UPSERT_REVIEW = (
    "INSERT INTO reviews (session_id, agent, path, verdict) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT (session_id, agent, path) DO UPDATE SET verdict = excluded.verdict"
)
UPDATE_TOTALS = f"""UPDATE sessions SET
    {", ".join(f"{name} = {name} + %s" for name in TOKEN_FIELDS)},
    cost_usd = cost_usd + %s,
    unknown_price_tokens = unknown_price_tokens + %s,
    last_seq = greatest(last_seq, %s),
    last_ts = greatest(coalesce(last_ts, 0), %s),
    pid = coalesce(%s, pid),
    host = coalesce(%s, host),
    user_name = coalesce(%s, user_name),
    heartbeat_at = coalesce(%s, heartbeat_at),
    agents = (SELECT count(*) FROM agents WHERE session_id = sessions.id),
    accepted = (SELECT count(*) FROM reviews WHERE session_id = sessions.id AND verdict = 'accepted'),
    rejected = (SELECT count(*) FROM reviews WHERE session_id = sessions.id AND verdict = 'rejected')
    WHERE id = %s"""

_DOWNTIME_OF_ROW = (
    "(SELECT coalesce(sum(r.ts - p.ts), 0) FROM events r"
    " JOIN events p ON p.session_id = r.session_id AND p.seq = r.seq - 1"
    " WHERE r.session_id = sessions.id AND r.kind = 'session_resumed')"
)
SUMMARY_SQL = (
    f"SELECT id, name, plan, cwd, status, started_at, ended_at, last_ts, pid, host, user_name, {_DOWNTIME_OF_ROW}, "
    f"{', '.join(ROLLUP_COLUMNS)} FROM sessions"
)
RESOLVE = "SELECT id FROM sessions WHERE left(id, %s) = %s ORDER BY id LIMIT 11"
LAST_SEQS = "SELECT id, last_seq FROM sessions"
SESSION_EXISTS = "SELECT last_seq FROM sessions WHERE id = %s"
SNAPSHOT_BEFORE = "SELECT seq, state FROM snapshots WHERE session_id = %s AND seq <= %s ORDER BY seq DESC LIMIT 1"
SNAPSHOT_SEQS = "SELECT seq FROM snapshots WHERE session_id = %s AND seq > %s ORDER BY seq"
TIMESTAMPS = "SELECT ts FROM events WHERE session_id = %s AND seq >= %s AND seq <= %s ORDER BY seq"
MARKERS = (
    "SELECT seq, ts, kind, agent, payload::text FROM events "
    "WHERE session_id = %s AND kind = ANY(%s) AND seq > %s ORDER BY seq"
)

EVENTS_BYTES = "SELECT pg_table_size('events')"
"""What the events take on the server (with their TOAST, without indexes): what a history snapshot copies."""

SESSION_TABLES = ("events", "snapshots", "agents", "reviews", "sessions")


def events_sql(agent: str | None) -> str:
    """A page of a session's events from a seq: (seq, ts, kind, payload)."""
    agent_filter = "AND agent = %s " if agent is not None else ""
    return (
        f"SELECT seq, ts, kind, payload::text FROM events WHERE session_id = %s {agent_filter}"
        "AND seq >= %s AND seq <= %s ORDER BY seq LIMIT %s"
    )


def events_before_sql(agent: str | None) -> str:
    """The last events at or before a seq, newest first: (seq, ts, kind, payload)."""
    agent_filter = "AND agent = %s " if agent is not None else ""
    return (
        f"SELECT seq, ts, kind, payload::text FROM events WHERE session_id = %s {agent_filter}"
        "AND seq <= %s ORDER BY seq DESC LIMIT %s"
    )


_IN_SCOPE = "session_id IN (SELECT id FROM sessions WHERE coalesce(last_ts, started_at) >= %(since)s)"
_DAY = "to_char(to_timestamp(ts), 'YYYY-MM-DD')"


def _number(name: str) -> str:
    return f"(payload ->> '{name}')::double precision"


STATS_SETTINGS = "SELECT set_config('work_mem', '64MB', false), set_config('jit', 'off', false)"
"""For the reader before the stats: group a million usage rows in memory (no sort spilled to disk), without JIT start-up."""

STATS_QUERIES = {
    "agents": f"""SELECT a.session_id, a.name, a.role, a.provider, a.model, s.name, coalesce(s.last_ts, s.started_at), s.user_name
        FROM agents a JOIN sessions s ON s.id = a.session_id WHERE a.{_IN_SCOPE}""",
    "usage": f"""SELECT session_id, agent, payload ->> 'provider', payload ->> 'model', {_DAY},
        {", ".join(f"coalesce(sum({_number(name)}), 0)" for name in (*TOKEN_FIELDS, "cost_usd"))},
        coalesce(sum(CASE WHEN payload ->> 'cost_usd' IS NULL
            THEN {_number("input_tokens")} + {_number("output_tokens")} ELSE 0 END), 0),
        bool_or(coalesce((payload ->> 'simulated')::boolean, false))
        FROM events WHERE {_IN_SCOPE} AND kind = 'usage' AND ts >= %(since)s GROUP BY 1, 2, 3, 4, 5""",
    "reviews": f"""SELECT DISTINCT ON (session_id, agent, payload ->> 'path')
        session_id, agent, payload ->> 'path', seq, payload ->> 'verdict', ts, {_DAY}
        FROM events WHERE {_IN_SCOPE} AND kind = 'artifact_review' ORDER BY session_id, agent, payload ->> 'path', seq DESC""",
    "actions": f"""SELECT session_id, agent, payload ->> 'by' = 'watchdog', {_DAY}, ts >= %(since)s, count(*)
        FROM events WHERE {_IN_SCOPE} AND kind = 'supervisor_action' AND agent IS NOT NULL
        AND payload ->> 'action' IN ({", ".join(repr(a) for a in INTERVENTION_ACTIONS)})
        GROUP BY 1, 2, 3, 4, 5""",
    "starts": f"""SELECT session_id, agent, min(ts) FROM events
        WHERE {_IN_SCOPE} AND kind = 'agent_status' AND payload ->> 'status' IN ('starting', 'streaming')
        GROUP BY 1, 2""",
    "finishes": f"""SELECT DISTINCT ON (session_id, agent) session_id, agent, seq, ts, payload ->> 'outcome'
        FROM events WHERE {_IN_SCOPE} AND kind = 'agent_finished' ORDER BY session_id, agent, seq DESC""",
    "downtime": f"""SELECT r.session_id, p.ts, r.ts FROM events r
        JOIN events p ON p.session_id = r.session_id AND p.seq = r.seq - 1
        WHERE r.{_IN_SCOPE} AND r.kind = 'session_resumed'""",
    "diffs": f"""SELECT DISTINCT ON (session_id, agent, payload ->> 'path') session_id, agent, payload ->> 'path', seq,
        coalesce((payload -> 'diff' ->> 'added')::bigint, 0) + coalesce((payload -> 'diff' ->> 'removed')::bigint, 0)
        FROM events WHERE {_IN_SCOPE} AND kind = 'artifact' AND payload -> 'diff' IS NOT NULL
        AND jsonb_typeof(payload -> 'diff') = 'object' ORDER BY session_id, agent, payload ->> 'path', seq DESC""",
    "rework": f"""SELECT session_id, agent, {_DAY}, count(*) FROM events r
        WHERE r.{_IN_SCOPE} AND r.kind = 'artifact_review' AND r.ts >= %(since)s AND r.payload ->> 'verdict' = 'rejected'
        AND trim(coalesce(r.payload ->> 'note', '')) != '' AND EXISTS (SELECT 1 FROM events d WHERE d.session_id = r.session_id
        AND d.kind = 'artifact' AND d.agent = r.agent AND d.payload ->> 'path' = r.payload ->> 'path'
        AND jsonb_typeof(d.payload -> 'diff') = 'object') GROUP BY 1, 2, 3""",
}
"""Each field of `StatsRows` and the query that fills it."""
