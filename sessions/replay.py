"""Seek anywhere in a stored session: the state after any event, its timeline markers, live follow.

`Replay.state_at(seq)` starts from the nearest state it can trust (the latest snapshot at or
before `seq`, or the state it returned last when that is closer) and reduces the events in
between with the live reducer, so a seek reads at most one snapshot interval of events.
Markers come from the `events_by_kind` index: only the few marker kinds are read.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from tokenmaxx.sessions.events import Event
from tokenmaxx.sessions.export import actor
from tokenmaxx.sessions.schema import SessionSummary
from tokenmaxx.sessions.state import (
    FleetState,
    initial_state,
    reduce,
    reduce_all,
    state_from_json,
    state_to_json,
)
from tokenmaxx.sessions.store_api import SessionStore

SNAPSHOT_EVERY = 2_000
GAP_STRETCH = 5  # a large fleet's log stretches its snapshot interval up to this many times
MarkerKind: TypeAlias = Literal["flag", "intervention", "artifact", "error"]
MARKER_PRIORITY: tuple[MarkerKind, ...] = ("error", "intervention", "flag", "artifact")
MARKER_EVENT_KINDS = (
    "agent_flagged",
    "supervisor_action",
    "artifact",
    "artifact_review",
    "provider_error",
    "plan_rejected",
    "agent_finished",
)
_REVIEW_ACTIONS = frozenset({"accept", "reject"})
LABEL_CHARS = 80


@dataclass(frozen=True, slots=True)
class Marker:
    """Something worth a tick on the timeline: a flag, an intervention, an artifact or an error."""

    seq: int
    ts: float
    kind: MarkerKind
    agent: str | None
    label: str


class Replay:
    """One stored session opened for seeking; cheap to open, whatever the session's size."""

    def __init__(self, store: SessionStore, summary: SessionSummary, snapshot_seqs: list[int]) -> None:
        self.store = store
        self.summary = summary
        self.session_id = summary.id
        self._snapshot_seqs = snapshot_seqs
        self._recent: FleetState = initial_state()
        self._markers: list[Marker] = []
        self._markers_read_to = 0

    @classmethod
    async def open(cls, store: SessionStore, session: str) -> Replay:
        """Open a session by its id or a unique id prefix (raises SessionNotFound, AmbiguousSession)."""
        session_id = await store.resolve(session)
        summary = await store.session(session_id)
        return cls(store, summary, await store.snapshot_seqs(session_id, 0))

    @property
    def last_seq(self) -> int:
        return self.summary.last_seq

    @property
    def live(self) -> bool:
        """True while the session's writer is still running, so `refresh` may find more events."""
        return self.summary.status == "running"

    @property
    def needs_snapshots(self) -> bool:
        """True when some stretch of the session has no snapshot, so seeks into it reduce many events."""
        return bool(_gaps(self._snapshot_seqs, self.last_seq, SNAPSHOT_EVERY * GAP_STRETCH))

    async def state_at(self, seq: int) -> FleetState:
        """The fleet state after event `seq` (clamped to 0..last_seq), equal to the live reducer's."""
        seq = max(0, min(seq, self.last_seq))
        base = self._recent if self._recent.seq <= seq else initial_state()
        index = bisect.bisect_right(self._snapshot_seqs, seq)
        if index and self._snapshot_seqs[index - 1] > base.seq:
            base = await self._snapshot(seq, base)
        if base.seq < seq:
            base = reduce_all(await self.events_between(base.seq + 1, seq), base)
        self._recent = base
        return base

    async def _snapshot(self, seq: int, fallback: FleetState) -> FleetState:
        found = await self.store.snapshot_before(self.session_id, seq)
        if found is None or found[0] <= fallback.seq:
            return fallback
        state = state_from_json(found[1])
        return state if state.seq == found[0] else fallback

    async def events_between(self, lo: int, hi: int, agent: str | None = None) -> list[Event]:
        """The events with lo <= seq <= hi, in order, optionally only one agent's."""
        if hi < lo:
            return []
        return await self.store.events(self.session_id, from_seq=max(lo, 1), to_seq=hi, agent=agent)

    async def events_before(self, seq: int, limit: int, agent: str | None = None) -> list[Event]:
        """The last `limit` events at or before `seq`, oldest first (a transcript's visible tail)."""
        return await self.store.events_before(self.session_id, seq, limit, agent)

    async def timestamps(self, lo: int, hi: int) -> list[float]:
        """The `ts` of the events lo..hi, in seq order."""
        return await self.store.timestamps(self.session_id, lo, hi)

    async def markers(self) -> list[Marker]:
        """Every marker of the session so far, in seq order (read once, then only what is new)."""
        rows = await self.store.markers_after(self.session_id, self._markers_read_to, MARKER_EVENT_KINDS)
        fresh = [row for row in rows if int(row[0]) > self._markers_read_to]
        for seq, ts, kind, agent, payload in fresh:
            marker = _marker(seq, ts, kind, agent, json.loads(payload))
            if marker is not None:
                self._markers.append(marker)
        if fresh:
            self._markers_read_to = int(fresh[-1][0])
        return list(self._markers)

    async def refresh(self) -> bool:
        """Pick up what a running session appended since; True when there are new events."""
        before = self.last_seq
        self.summary = await self.store.session(self.session_id)
        if self.last_seq > before:
            newest = self._snapshot_seqs[-1] if self._snapshot_seqs else 0
            found = await self.store.snapshot_seqs(self.session_id, newest)
            self._snapshot_seqs = sorted({*self._snapshot_seqs, *found})
        return self.last_seq > before

    async def ensure_snapshots(
        self, every: int = SNAPSHOT_EVERY, progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Snapshot every `every` events each stretch longer than GAP_STRETCH intervals; returns how many.

        Sessions recorded live or imported already have them; this serves older ones. A running
        session is left alone (its writer takes snapshots), and so is one this store cannot write
        to (`needs_snapshots` then stays True). `progress(done, total)` hears of each `every` events.
        """
        gaps = [] if self.live else _gaps(self._snapshot_seqs, self.last_seq, every * GAP_STRETCH)
        total, done, written = sum(hi - lo for lo, hi in gaps), 0, []
        for lo, hi in gaps:
            state = await self.state_at(lo)
            async for event in self.store.iter_events(self.session_id, from_seq=lo + 1, to_seq=hi):
                state = reduce(state, event)
                if (event.seq - lo) % every == 0 and event.seq < hi:
                    if not self._store_snapshot(event.seq, state):
                        break
                    written.append(event.seq)
                done += 1
                if progress is not None and done % every == 0:
                    progress(done, total)
        await self.store.flush()
        self._snapshot_seqs = sorted({*self._snapshot_seqs, *written})
        return len(written)

    def _store_snapshot(self, seq: int, state: FleetState) -> bool:
        """Queue a snapshot; False when this store cannot (a session another process wrote after it opened)."""
        try:
            self.store.append_snapshot(self.session_id, seq, state_to_json(state))
        except ValueError:
            return False
        return True


def _gaps(snapshot_seqs: list[int], last_seq: int, longest: int) -> list[tuple[int, int]]:
    """The stretches (lo, hi] longer than `longest` events that no snapshot breaks up."""
    points = [0, *snapshot_seqs, last_seq]
    return [(lo, hi) for lo, hi in zip(points, points[1:]) if hi - lo > longest]


def _marker(seq: int, ts: float, kind: str, agent: str | None, payload: dict[str, Any]) -> Marker | None:
    found = _classify(kind, agent, payload)
    if found is None:
        return None
    marker_kind, label = found
    return Marker(seq, ts, marker_kind, agent, _shorten(label))


def _classify(kind: str, agent: str | None, p: dict[str, Any]) -> tuple[MarkerKind, str] | None:  # noqa: C901
    """The marker kind and label of one event of the marker kinds (None: not worth a marker)."""
    who = agent or "fleet"
    match kind:
        case "agent_flagged":
            return "flag", f"{who} {p['flag']}" + _said(p.get("detail"))
        case "supervisor_action" if p["action"] not in _REVIEW_ACTIONS:
            return "intervention", _intervention(p.get("by", "user"), p["action"], who) + _said(p.get("text"))
        case "artifact":
            return "artifact", f"{who} wrote {p['path']}"
        case "artifact_review":
            return "artifact", f"{who} {p['path']} {p['verdict']}"
        case "provider_error":
            return "error", f"{who} {p['error_kind']}: {p['message']}"
        case "plan_rejected":
            return "error", f"plan rejected: {p['error']}"
        case "agent_finished" if p["outcome"] == "failed":
            return "error", f"{who} failed" + _said(p.get("summary"))
        case _:
            return None


def _intervention(by: str, action: str, who: str) -> str:
    """'watchdog restart charts'; an action named after its actor reads 'resume logs (tokenmaxx resume)', not 'resume resume logs'."""
    return f"{action} {who} ({actor(by)})" if by == action else f"{actor(by)} {action} {who}"


def _said(text: str | None) -> str:
    return f": {text}" if text else ""


def _shorten(label: str) -> str:
    line = " ".join(label.split())
    return line if len(line) <= LABEL_CHARS else line[: LABEL_CHARS - 1] + "…"


def marker_columns(markers: Sequence[Marker], last_seq: int, width: int) -> list[MarkerKind | None]:
    """What each of `width` timeline columns shows: its most pressing marker's kind, or None."""
    columns: list[MarkerKind | None] = [None] * max(width, 0)
    if not columns or last_seq <= 0:
        return columns
    rank = {kind: index for index, kind in enumerate(MARKER_PRIORITY)}
    for marker in markers:
        column = min(width - 1, (marker.seq - 1) * width // last_seq)
        current = columns[column]
        if current is None or rank[marker.kind] < rank[current]:
            columns[column] = marker.kind
    return columns


def next_marker(markers: Sequence[Marker], seq: int, direction: int = 1) -> Marker | None:
    """The first marker after `seq` (direction 1) or the last one before it (direction -1)."""
    seqs = [marker.seq for marker in markers]
    if direction >= 0:
        index = bisect.bisect_right(seqs, seq)
        return markers[index] if index < len(markers) else None
    index = bisect.bisect_left(seqs, seq)
    return markers[index - 1] if index else None
