"""SessionsScreen: every recorded session, filtered and sorted; enter replays the one under the cursor.

The list is read from the store in a worker and read again every couple of seconds, so running
sessions move on and new ones appear; a key never waits on the database. A session whose fleet
process answers on its socket is marked, and enter attaches to it; one whose process died reads
as interrupted, with `tokenmaxx resume ID` offered.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Input, Static

from tokenmaxx.agents.serve import socket_alive
from tokenmaxx.agents.wire import socket_path
from tokenmaxx.sessions.safe_text import terminal_safe, terminal_safe_line
from tokenmaxx.sessions.store import SessionSummary, Store, StoreError
from tokenmaxx.sessions.store_api import StoreTarget, describe, open_store, store_exists
from tokenmaxx.tui.format import plural
from tokenmaxx.tui.headless import money
from tokenmaxx.tui.history_cli import HistoryError
from tokenmaxx.tui.listing import duration_text
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.screens.export_path import ExportPathModal
from tokenmaxx.tui.session_actions import delete_stored, export_beside
from tokenmaxx.tui.session_filter import SORTS, SessionQuery
from tokenmaxx.tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from tokenmaxx.tui.app import TokenmaxxApp

REFRESH_S = 2.0
COLUMNS = ("id", "name", "started", "duration", "status", "agents", "tokens", "cost", "accepted/rejected")
STATUS_TONES = {
    "running": "agent-active",
    "interrupted": "agent-stalled",
    "done": "agent-done",
    "failed": "agent-failed",
    "stopped": "agent-killed",
}


class SessionTable(DataTable[object]):
    """The list itself; enter (or a click on the cursor row) chooses the session under the cursor."""

    BINDINGS = [Binding("enter", "select_cursor", "Replay", id="sessions.replay")]


class SessionsScreen(Screen[None]):
    """The cursor stays on its session while the list refreshes, re-sorts or filters."""

    CSS_PATH = "sessions.tcss"
    HELP_INTRO = (
        "Every recorded session, newest first; the list reads the database again every 2 s, so running sessions "
        "move on. A session whose process died reads as interrupted: r resumes it. Durations leave out the time a "
        "session was dead. Enter replays the session under the cursor, or attaches to it when its fleet runs in a process "
        "of its own (marked attach); e exports it (Markdown and JSONL), d deletes it."
    )
    AUTO_FOCUS = "#sessions"
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="sessions.filter"),
        Binding("f", "status", "Status", id="sessions.status", tooltip="Show only running, interrupted, done, failed or stopped sessions"),
        Binding("r", "resume", "Resume", id="sessions.resume", tooltip="Take an interrupted session up again"),
        Binding("e", "export", "Export", id="sessions.export", tooltip="Write the session as Markdown and JSONL"),
        Binding("d", "delete", "Delete", id="sessions.delete", tooltip="Remove the session from the database (asks first)"),
        *[
            Binding(str(n), f"sort('{key}')", f"Sort by {key}", id=f"sessions.sort_{key}", show=False)
            for n, key in enumerate(SORTS, start=1)
        ],
        Binding("escape", "back", "Back", id="sessions.back", tooltip="Clear the filter, else close"),
    ]

    def __init__(self, store_path: StoreTarget, *, closable: bool = True) -> None:
        super().__init__()
        self.store_path = store_path
        self.closable = closable
        self.query_ = SessionQuery()
        self.sessions: list[SessionSummary] = []
        self.shown: list[SessionSummary] = []
        self.attachable: frozenset[str] = frozenset()
        self.problem: str | None = None
        self.loaded = False
        self._store: Store | None = None
        self._opening: asyncio.Future[Store] | None = None
        self._reading = False
        self._again = False

    @property
    def cockpit(self) -> TokenmaxxApp:
        return cast("TokenmaxxApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static("sessions", id="sessions-bar")
        table = SessionTable(id="sessions", cursor_type="row", zebra_stripes=True)
        for column in COLUMNS:
            table.add_column(column, key=column)
        yield table
        yield Static("", id="sessions-empty")
        yield Input(placeholder="filter: id, name, plan or folder; text or regex; ! in front inverts · enter keeps · esc clears", id="filter")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.watch(self.app, "theme", lambda _: self._show(), init=False)
        self.reload()
        self.set_interval(REFRESH_S, self.reload, name="sessions refresh")

    async def on_unmount(self) -> None:
        store, self._store = self._store, None
        if store is None and self._opening is not None:  # a read was cut short while the store opened
            try:
                store = await self._opening
            except (StoreError, OSError, asyncio.CancelledError):
                store = None
        if store is not None:
            await store.close()

    def reload(self) -> None:
        """Read the sessions again; while a read is still going, once more after it (a slow database is never asked twice at once)."""
        if self._reading:
            self._again = True
        else:
            self._reading, self._again = True, False
            self._reload()

    @work(group="sessions", exit_on_error=False)
    async def _reload(self) -> None:
        """A database that is missing or broken becomes a message, never a crash."""
        try:
            sessions = await self._read()
            attachable = _attachable(sessions)
        except (StoreError, OSError) as error:
            self.problem = f"cannot read {describe(self.store_path)}: {error}"
            sessions, attachable = [], frozenset()
        else:
            self.problem = None
        finally:
            self._reading = False
        if self._again:
            self.reload()
        self.loaded = True
        if sessions != self.sessions or attachable != self.attachable or not self.shown:
            self.sessions, self.attachable = sessions, attachable
            self._show()
        self._show_bar()

    async def _read(self) -> list[SessionSummary]:
        if self._store is None:
            if not store_exists(self.store_path):
                return []
            if self._opening is None:
                self._opening = asyncio.ensure_future(open_store(self.store_path))
            try:  # shielded: a cancelled read must not lose a connection that opens anyway
                self._store = await asyncio.shield(self._opening)
            except StoreError:
                self._opening = None  # try again next time: the file may be mended
                raise
        return await self._store.sessions()

    def _show(self) -> None:
        table = self.query_one("#sessions", DataTable)
        keep = self.selected
        self.shown = self.query_.apply(self.sessions)
        table.clear()
        now = time.time()
        colours = self.app.theme_variables
        for summary in self.shown:
            tone = colours.get(STATUS_TONES.get(summary.status, "agent-waiting"), "")
            table.add_row(*_cells(summary, now, tone, summary.id in self.attachable), key=summary.id)
        if keep is not None and keep.id in {s.id for s in self.shown}:
            table.move_cursor(row=table.get_row_index(keep.id), animate=False)
        self._show_empty()
        self.refresh_bindings()

    def _show_empty(self) -> None:
        empty = self.query_one("#sessions-empty", Static)
        if self.problem:
            message = self.problem
        elif not self.loaded:
            message = "reading sessions…"
        elif not self.sessions:
            message = f"No sessions yet (database: {describe(self.store_path)}).\nStart one with: tokenmaxx demo"
        elif not self.shown:
            message = "No session matches the filter (esc clears it)."
        else:
            message = ""
        empty.update(terminal_safe(message))
        empty.display = bool(message)

    def _show_bar(self) -> None:
        total = len(self.sessions)
        text = f"sessions · {len(self.shown)} of {plural(total, 'session')} · {self.query_.describe()} · enter replays, or attaches to a running fleet"
        self.query_one("#sessions-bar", Static).update(text)

    @property
    def selected(self) -> SessionSummary | None:
        table = self.query_one("#sessions", DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.closable or self.query_.text != "" or self._filtering()
        if action in ("resume", "export", "delete"):
            return None if self.selected is None else True
        return True

    def _filtering(self) -> bool:
        return self.focused is self.query_one("#filter", Input)

    @on(DataTable.RowSelected, "#sessions")
    def _row_chosen(self) -> None:
        session = self.selected
        if session is None:
            return
        if session.id not in self.attachable:
            self.cockpit.open_replay(session.id)
        elif not self.closable:
            self.cockpit.attach_on_exit(session.id)
        else:
            self._offer(f"tokenmaxx attach {session.id}")

    def action_resume(self) -> None:
        """An interrupted session: from the browser the app started on, closes it and resumes there; else names the command."""
        session = self.selected
        if session is None:
            return
        if session.id in self.attachable:
            self.notify(f"{session.id} runs in a fleet process: enter attaches to it", severity="warning")
        elif session.status != "interrupted":
            self.notify(f"{session.id}: only an interrupted session can be resumed (this one is {session.status})", severity="warning")
        elif not self.closable:
            self.cockpit.resume_on_exit(session.id)
        else:
            self._offer(f"tokenmaxx resume {session.id}")

    def _offer(self, command: str) -> None:
        """A fleet is on view in this app: copy the command that does it from a shell, and say so."""
        self.app.copy_to_clipboard(command)
        self.notify(f"a fleet is on view here: quit and run `{command}` (copied)", timeout=10)

    def action_export(self) -> None:
        session = self.selected
        if session is not None:
            suggested = Path.cwd() / f"tokenmaxx-{session.id}"
            self.app.push_screen(ExportPathModal(session.id, suggested), lambda base: self._export(session.id, base))

    def _export(self, session_id: str, base: Path | None) -> None:
        if base is not None:
            self.run_worker(self._write_export(session_id, base), name=f"export {session_id}", group="sessions export", exit_on_error=False)

    async def _write_export(self, session_id: str, base: Path) -> None:
        try:
            written = await export_beside(self.store_path, session_id, base)
        except (HistoryError, StoreError) as error:
            self.notify(f"export failed: {error}", severity="error", timeout=10)
            return
        self.notify(f"session {session_id} exported: {', '.join(map(str, written))}", timeout=10)

    def action_delete(self) -> None:
        session = self.selected
        if session is None:
            return
        if session.status == "running":
            self.notify(f"{session.id} is still running: stop it before deleting it", severity="warning")
            return
        question = f"Delete session {session.id} ({session.name}, {session.status}) from {describe(self.store_path)}? This cannot be undone."
        self.app.push_screen(ConfirmModal(question, yes="Delete"), lambda yes: self._delete(session.id) if yes else None)

    def _delete(self, session_id: str) -> None:
        self.run_worker(self._remove(session_id), name=f"delete {session_id}", group="sessions delete", exit_on_error=False)

    async def _remove(self, session_id: str) -> None:
        try:
            await delete_stored(self.store_path, session_id)
        except StoreError as error:
            self.notify(f"not deleted: {error}", severity="error", timeout=10)
            return
        self.notify(f"session {session_id} deleted")
        self.reload()

    def action_filter(self) -> None:
        self.set_class(True, "-filtering")
        self.query_one("#filter", Input).focus()

    def action_status(self) -> None:
        self._requery(self.query_.next_status())

    def action_sort(self, key: str) -> None:
        self._requery(self.query_.sorted_by(key))

    def action_back(self) -> None:
        field = self.query_one("#filter", Input)
        if self._filtering() or self.query_.text:
            field.value = ""
            self._leave_filter()
        elif self.closable:
            self.dismiss()

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._requery(replace(self.query_, text=event.value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self._leave_filter()

    def _leave_filter(self) -> None:
        if not self.query_one("#filter", Input).value:
            self.set_class(False, "-filtering")
        self.query_one("#sessions", DataTable).focus()
        self.refresh_bindings()

    def _requery(self, query: SessionQuery) -> None:
        self.query_ = query
        self._show()
        self._show_bar()


def _attachable(sessions: list[SessionSummary]) -> frozenset[str]:
    """The running sessions whose fleet process answers on its socket."""
    return frozenset(s.id for s in sessions if s.status == "running" and socket_alive(socket_path(s.id)))


def _status(s: SessionSummary, attachable: bool) -> str:
    """The status, with what enter or r does to it: attach to a live fleet, resume an interrupted one."""
    if attachable:
        return "running · attach"
    return f"interrupted · tokenmaxx resume {s.id[:8]}" if s.status == "interrupted" else s.status


def _cells(s: SessionSummary, now: float, colour: str, attachable: bool) -> tuple[object, ...]:
    """One row; `colour` is the status's theme colour, read when the row is built."""
    return (
        Text(terminal_safe_line(s.id[:8]), style="bold"),
        terminal_safe_line(s.name),
        _started(s.started_at, now),
        duration_text(s.duration_s),
        Text(terminal_safe_line(_status(s, attachable)), style=f"bold {colour}".strip()),
        Text(str(s.agents), justify="right"),
        Text(f"{s.input_tokens + s.output_tokens:,}", justify="right"),
        Text(money(s.cost_usd, s.unknown_price_tokens), justify="right"),
        Text(f"{s.accepted}/{s.rejected}", justify="center"),
    )


def _started(ts: float, now: float) -> str:
    """Today's sessions by time alone; older ones with the date."""
    local, today = time.localtime(ts), time.localtime(now)
    same_day = local[:3] == today[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M", local)
