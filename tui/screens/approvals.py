"""ApprovalsModal: every tool call waiting for a human, across the fleet: approve, always allow, or deny."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tokenmaxx.sessions.safe_text import terminal_safe_line
from tokenmaxx.sessions.state import FleetState, PendingApproval
from tokenmaxx.tui.format import duration
from tokenmaxx.tui.widgets.key_footer import KeyFooter

if TYPE_CHECKING:
    from tokenmaxx.tui.app import TokenmaxxApp

ARGS_CHARS = 160


class ApprovalsModal(ModalScreen[None]):
    """Oldest first; the queue repaints live: decided calls leave it, new ones join it."""

    CSS_PATH = "approvals.tcss"
    BINDINGS = [
        Binding("y", "decide(True, False)", "Approve", id="approvals.approve"),
        Binding("a", "decide(True, True)", "Always allow tool", id="approvals.always"),
        Binding("n", "decide(False, False)", "Deny", id="approvals.deny"),
        Binding("escape", "dismiss", "Close", id="approvals.close"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.waiting: list[tuple[str, PendingApproval]] = []
        self._painted = False

    @property
    def cockpit(self) -> TokenmaxxApp:
        return cast("TokenmaxxApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="approvals"):
            yield Label("Approvals waiting", id="title")
            yield OptionList(id="queue")
            yield Label("", id="empty")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.paint(self.cockpit.fleet.state, self.cockpit.clock())
        self.query_one("#queue").focus()

    def paint(self, state: FleetState, now: float) -> None:
        """Show the calls waiting now, keeping the highlight on the same call."""
        waiting = sorted(((a.name, p) for a in state.agents.values() for p in a.pending), key=lambda item: item[1].ts)
        if self._painted and waiting == self.waiting:
            return
        self._painted = True
        queue = self.query_one("#queue", OptionList)
        keep = self.current[1].call_id if self.current else None
        self.waiting = waiting
        queue.set_options([Option(_label(name, p, now), id=p.call_id) for name, p in waiting])
        ids = [p.call_id for _, p in waiting]
        queue.highlighted = ids.index(keep) if keep in ids else (0 if ids else None)
        self.query_one("#empty", Label).update("" if waiting else "No tool call is waiting for approval.")
        self.refresh_bindings()

    @property
    def current(self) -> tuple[str, PendingApproval] | None:
        index = self.query_one("#queue", OptionList).highlighted
        return self.waiting[index] if index is not None and index < len(self.waiting) else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "decide":
            return True if self.current is not None else None
        return True

    def action_decide(self, approve: bool, always: bool) -> None:
        current = self.current
        if current is not None:
            agent, pending = current
            self.cockpit.control.decide(agent, pending.call_id, approve=approve, always=always)


def _label(agent: str, pending: PendingApproval, now: float) -> Content:
    args = json.dumps(pending.args, ensure_ascii=False, default=str)
    args = args if len(args) <= ARGS_CHARS else args[: ARGS_CHARS - 1] + "…"
    return Content.assemble(
        Content.styled(f"{terminal_safe_line(agent):<14}", "bold"),
        Content.styled(f"{terminal_safe_line(pending.tool):<14}", "bold $agent-approval"),
        Content.styled(f"waiting {duration(now - pending.ts):>6}  ", "$foreground 60%"),
        terminal_safe_line(args),
    )
