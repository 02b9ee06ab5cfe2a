"""Which sessions the sessions screen lists and in what order: a text filter, a status and a sort key. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from tokenmaxx.sessions.store import SessionSummary
from tokenmaxx.tui.agent_filter import text_matches
from tokenmaxx.tui.history_cli import SORT_KEYS

STATUSES: tuple[str, ...] = ("all", "running", "interrupted", "done", "failed", "stopped")
SORTS: tuple[str, ...] = ("started", "duration", "cost", "tokens", "name")


@dataclass(frozen=True)
class SessionQuery:
    """A `/` filter over id, name, plan and folder (regex or text, `!` inverts), a status, a sort key."""

    text: str = ""
    status: str = "all"
    sort: str = "started"
    reverse: bool = False

    def apply(self, sessions: Iterable[SessionSummary]) -> list[SessionSummary]:
        """The sessions that pass; newest, longest, costliest or largest first (names A-Z); `reverse` flips it."""
        shown = [s for s in sessions if self._passes(s)]
        descending = self.sort != "name"
        return sorted(shown, key=SORT_KEYS[self.sort], reverse=descending != self.reverse)

    def _passes(self, session: SessionSummary) -> bool:
        if self.status != "all" and session.status != self.status:
            return False
        return text_matches(self.text, (session.id, session.name, session.status, session.plan or "", session.cwd))

    def next_status(self) -> SessionQuery:
        return replace(self, status=STATUSES[(STATUSES.index(self.status) + 1) % len(STATUSES)])

    def sorted_by(self, key: str) -> SessionQuery:
        """Sort by `key`; asking for the current key again reverses the order."""
        return replace(self, sort=key, reverse=not self.reverse if key == self.sort else False)

    def describe(self) -> str:
        parts = [] if self.status == "all" else [f"status: {self.status}"]
        if self.text:
            parts.append(f"{'excluding' if self.text.startswith('!') else 'matching'} {self.text.removeprefix('!')!r}")
        order = f"sorted by {self.sort}{' reversed' if self.reverse else ''}"
        return ", ".join([*parts, order])
