"""SupervisedScreen: the supervision keys shared by the fleet and agent screens, and when each applies."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import events
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, TextArea

from tokenmaxx.sessions.state import AgentState, FleetState
from tokenmaxx.tui.format import plural
from tokenmaxx.agents.reprompt_queue import is_busy
from tokenmaxx.tui.screens.approvals import ApprovalsModal
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.screens.reprompt import RepromptAnswer, RepromptModal
from tokenmaxx.tui.widgets.flag_banner import NOT_LIVE

if TYPE_CHECKING:
    from tokenmaxx.tui.app import TokenmaxxApp

SUPERVISION_BINDINGS = [
    Binding("k", "kill", "Kill", id="kill", tooltip="Kill the selected or tagged agents (asks first)"),
    Binding("ctrl+k", "kill_now", "Kill now", id="kill_now", tooltip="Kill without asking", show=False),
    Binding("r", "reprompt", "Reprompt", id="reprompt", tooltip="Send a message; waits for a safe point if busy"),
    Binding("p", "pause", "Pause", id="pause", tooltip="Pause the agent at its next safe point, or resume it"),
    Binding("R", "restart", "Restart", id="restart", tooltip="Start the agent's task again from the beginning", show=False),
    Binding("a", "review(True)", "Accept", id="accept", tooltip="Accept the latest deliverable"),
    Binding("x", "review(False)", "Reject", id="reject", tooltip="Reject the latest deliverable"),
    Binding("A", "approvals", "Approvals", id="approvals", tooltip="Tool calls waiting for approval"),
    Binding("S", "stop_all", "Stop all", id="stop_all", tooltip="Stop every running agent now, streams and tools included (asks first); S again resumes them", show=False),
]
SUPERVISION_ACTIONS = frozenset({"kill", "kill_now", "reprompt", "pause", "restart", "review", "approvals", "stop_all"})
_SUPERVISION_KEYS = frozenset(b.key for b in SUPERVISION_BINDINGS)
_NAMED_PRINTABLE = frozenset({"space", "slash", "question_mark", "exclamation_mark", "full_stop", "comma"})
NO_APPROVALS = "no tool calls are waiting for approval"
NAMED_AT_MOST = 4


def is_printable_key(key: str) -> bool:
    """True for keys that type a character into a focused text input."""
    return len(key) == 1 or key in _NAMED_PRINTABLE


class SupervisedScreen(Screen[None]):
    """A screen painted from the fleet state that steers the agents it names in `targets`."""

    BINDINGS = SUPERVISION_BINDINGS

    def __init__(self) -> None:
        super().__init__()
        self.state = FleetState()
        self._applicable: frozenset[str] = frozenset()

    @property
    def cockpit(self) -> TokenmaxxApp:
        return cast("TokenmaxxApp", self.app)

    def targets(self) -> list[str]:
        """The agents a supervision key acts on."""
        raise NotImplementedError

    def deliverable(self) -> tuple[str, str] | None:
        """The (agent, artifact path) that `a` and `x` review."""
        raise NotImplementedError

    def paint(self, state: FleetState, now: float) -> None:
        """Show `state`; widgets refresh only where what they show changed."""
        self.state = state
        applicable = frozenset(a for a in SUPERVISION_ACTIONS if self._applies(a))
        if applicable != self._applicable:
            self._applicable = applicable
            self.refresh_bindings()

    def on_screen_resume(self) -> None:
        self.cockpit.repaint()

    def on_key(self, event: events.Key) -> None:
        if not self.cockpit.fleet.live and event.key in _SUPERVISION_KEYS and not _typing(self):
            event.stop()
            self.notify(NOT_LIVE, severity="warning")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if _typing(self) and action in self._printable_actions():
            return False
        if action not in SUPERVISION_ACTIONS:
            return True
        if not self.cockpit.fleet.live:
            return None
        return True if self._applies(action) else None

    def _printable_actions(self) -> frozenset[str]:
        return frozenset(b.action.split("(")[0] for _, b in self._bindings if is_printable_key(b.key))

    def _applies(self, action: str) -> bool:
        agents = self._target_agents()
        match action:
            case "kill" | "kill_now" | "pause":
                return any(not a.finished for a in agents)
            case "reprompt" | "restart":
                return bool(agents)
            case "review":
                return self.deliverable() is not None
            case "stop_all":
                return bool(self.state.stopped) or any(not a.finished and a.status != "paused" for a in self.state.agents.values())
            case _:
                return True

    def _target_agents(self) -> list[AgentState]:
        return [self.state.agents[name] for name in self.targets() if name in self.state.agents]

    def action_kill(self) -> None:
        names = [a.name for a in self._target_agents() if not a.finished]
        if names:
            question = f"Kill {', '.join(names)}? Work in flight is lost."
            self.app.push_screen(ConfirmModal(question, yes="Kill"), lambda yes: self._killed(names, yes))

    def _killed(self, names: list[str], yes: bool | None) -> None:
        if yes:
            self.cockpit.control.kill(names)

    def action_kill_now(self) -> None:
        self.cockpit.control.kill([a.name for a in self._target_agents() if not a.finished])

    def action_reprompt(self) -> None:
        agents = self._target_agents()
        if not agents:
            return
        names = [a.name for a in agents]
        queued = self.cockpit.control.queued(names[0]) if len(names) == 1 else None
        modal = RepromptModal(names, busy=[a.name for a in agents if is_busy(a)], queued=queued)
        self.app.push_screen(modal, lambda answer: self._reprompted(names, answer))

    def _reprompted(self, names: list[str], answer: RepromptAnswer | None) -> None:
        if answer is None:
            return
        if answer.drop:
            for name in names:
                self.cockpit.control.drop_reprompt(name)
            self.notify(f"dropped the message waiting for {', '.join(names)}")
        else:
            self.cockpit.control.reprompt(names, answer.text, now=answer.now)
        self.cockpit.repaint()

    def action_pause(self) -> None:
        self.cockpit.control.toggle_pause([a.name for a in self._target_agents() if not a.finished])

    def action_restart(self) -> None:
        self.cockpit.control.restart(self.targets())

    def action_review(self, accept: bool) -> None:
        deliverable = self.deliverable()
        if deliverable is None:
            return
        if not accept and _is_diff(self.state, *deliverable):
            modal = RepromptModal([deliverable[0]], busy=[], title=f"Reject {deliverable[0]}'s diff; a note goes back to it as rework")
            self.app.push_screen(modal, lambda answer: self._rejected(deliverable, answer))
            return
        self.cockpit.control.review(*deliverable, accept=accept)

    def _rejected(self, deliverable: tuple[str, str], answer: RepromptAnswer | None) -> None:
        if answer is not None and not answer.drop:
            self.cockpit.control.review(*deliverable, accept=False, note=answer.text.strip())

    def action_approvals(self) -> None:
        """Open the queue, or say that it is empty: a key that does nothing looks broken."""
        if any(a.pending for a in self.state.agents.values()):
            self.app.push_screen(ApprovalsModal())
        else:
            self.notify(NO_APPROVALS)

    def action_stop_all(self) -> None:
        """Resume the stopped set, or ask before stopping every running agent."""
        if self.state.stopped:
            self.cockpit.control.resume_all()
            return
        running = [a.name for a in self.state.agents.values() if not a.finished and a.status != "paused"]
        if running:
            question = f"Stop {_named(running)} now? Streams and tools in flight are cut short; S resumes them."
            self.app.push_screen(ConfirmModal(question, yes="Stop all"), self._stopped_all)

    def _stopped_all(self, yes: bool | None) -> None:
        if yes:
            self.cockpit.control.stop_all()


def _is_diff(state: FleetState, agent: str, path: str) -> bool:
    """Whether the deliverable is a coding agent's diff, whose rejection may carry a note back to it."""
    shown = state.agents.get(agent)
    return shown is not None and any(a.path == path and a.diff is not None for a in shown.artifacts)


def _named(names: list[str]) -> str:
    """A few agents by name, many by count."""
    return ", ".join(names) if len(names) <= NAMED_AT_MOST else plural(len(names), "running agent")


def _typing(screen: Screen[None]) -> bool:
    return isinstance(screen.focused, (Input, TextArea))
