"""AgentScreen: one agent up close: its pane, the full transcript, usage per turn, and its artifacts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import OptionList

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import FleetState
from tokenmaxx.tui import opener
from tokenmaxx.tui.screens.artifact import open_artifact
from tokenmaxx.tui.screens.reprompt import RepromptAnswer, RepromptModal
from tokenmaxx.tui.screens.supervised import SupervisedScreen
from tokenmaxx.tui.widgets.agent_pane import AgentPane
from tokenmaxx.tui.widgets.artifact_list import ArtifactList
from tokenmaxx.tui.widgets.artifact_preview import (
    ArtifactPreview,
    PreviewUnavailable,
    read_preview,
)
from tokenmaxx.tui.widgets.diff_lines import DiffLine, comment_note, comment_title
from tokenmaxx.tui.widgets.flag_banner import FlagBanner
from tokenmaxx.tui.widgets.iteration_costs import IterationCosts
from tokenmaxx.tui.widgets.key_footer import KeyFooter
from tokenmaxx.tui.widgets.transcript import Transcript
from tokenmaxx.tui.widgets.usage_table import UsageTable


class AgentScreen(SupervisedScreen):
    """The transcript loads from the record in a worker; live events append after it, none twice."""

    CSS_PATH = "agent.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("o", "open_artifact", "Open", id="agent.open", tooltip="Open the selected artifact: text here, other files with the system opener"),
        Binding("c", "comment", "Comment", id="agent.comment", tooltip="Comment on the selected line of the diff; it goes back to the agent as rework"),
    ]

    class HistoryLoaded(Message):
        """A worker read the agent's recorded events."""

        def __init__(self, events: list[ev.Event]) -> None:
            super().__init__()
            self.events = events

    class PreviewLoaded(Message):
        """A worker read an artifact's text (or why it cannot be shown)."""

        def __init__(self, path: str, text: str | None, problem: str | None) -> None:
            super().__init__()
            self.path, self.text, self.problem = path, text, problem

    def __init__(self, agent: str) -> None:
        super().__init__()
        self.agent = agent
        self.loaded = False
        self._live: list[ev.Event] = []
        self._last_seq = 0
        self._unsubscribe = lambda: None
        self._previewed: tuple[str, str, ev.DiffSummary | None] | None = None

    def compose(self) -> ComposeResult:
        fleet = self.cockpit.fleet
        yield FlagBanner(live=fleet.live, id="banner")
        yield AgentPane(fleet.state.agents[self.agent], id="summary")
        with Horizontal(id="body"):
            yield Transcript(id="transcript")
            with Vertical(id="side"):
                yield IterationCosts(id="iterations")
                yield UsageTable(id="usage")
                yield ArtifactList(live=fleet.live, id="artifacts")
                yield ArtifactPreview(id="preview")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self._unsubscribe = self.cockpit.fleet.subscribe(self._heard)
        self._read_history()

    def _read_history(self) -> None:
        self.run_worker(self._load_history(), name=f"history:{self.agent}", group="history", exclusive=True, exit_on_error=False)

    def reload_history(self) -> None:
        """Forget the transcript and read the agent's history again (a replay moved back past what it shows)."""
        self.loaded, self._live, self._last_seq = False, [], 0
        self.query_one(Transcript).reset()
        self.query_one(UsageTable).reset()
        self._read_history()

    def on_unmount(self) -> None:
        self._unsubscribe()

    def _heard(self, event: ev.Event, state: FleetState) -> None:
        if getattr(event, "agent", None) == self.agent:
            self._live.append(event)

    async def _load_history(self) -> None:
        events = await self.cockpit.fleet.read_agent_events(self.agent)
        self.post_message(self.HistoryLoaded(events))

    def on_agent_screen_history_loaded(self, message: HistoryLoaded) -> None:
        self.loaded = True
        self._append([e for e in message.events if e.seq <= self.cockpit.fleet.state.seq])  # a read from before a reload may go further
        self.cockpit.repaint()

    def _append(self, events: list[ev.Event]) -> None:
        fresh = [e for e in events if e.seq > self._last_seq]
        if fresh:
            self._last_seq = fresh[-1].seq
            self.query_one(Transcript).add(fresh)
            self.query_one(UsageTable).add(fresh)

    def targets(self) -> list[str]:
        return [self.agent]

    def deliverable(self) -> tuple[str, str] | None:
        artifact = self.query_one(ArtifactList).selected
        return (self.agent, artifact.path) if artifact else None

    def paint(self, state: FleetState, now: float) -> None:
        self.state = state
        agent = state.agents[self.agent]
        self.query_one(FlagBanner).show(state)
        self.query_one(AgentPane).show(agent, now, self.cockpit.control.queued(self.agent))
        if self.loaded and self._live:
            live, self._live = self._live, []
            self._append(live)
        self.query_one(IterationCosts).show(agent)
        if self.query_one(ArtifactList).show(agent.artifacts):
            self.refresh_bindings()
        self._preview_selected()
        super().paint(state, now)

    @on(OptionList.OptionHighlighted, "#artifacts")
    def _artifact_highlighted(self) -> None:
        self._preview_selected()
        self.refresh_bindings()

    @on(OptionList.OptionSelected, "#artifacts")
    def _artifact_chosen(self) -> None:
        self.action_open_artifact()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "open_artifact" and not any(artifacts.selected for artifacts in self.query(ArtifactList)):
            return None
        if action == "comment" and self._comment_target() is None:
            return False
        return super().check_action(action, parameters)

    @on(ArtifactPreview.LineSelected)
    def _line_selected(self) -> None:
        self.refresh_bindings()

    def _comment_target(self) -> tuple[str, DiffLine] | None:
        """The diff under review and its selected line, while a comment on it can still go back to the agent."""
        agent = self.state.agents.get(self.agent)
        previews = list(self.query(ArtifactPreview))
        line = previews[0].selected_line if previews else None
        if agent is None or line is None or not agent.finished or not self.cockpit.fleet.live:
            return None
        shown = next((a for a in agent.artifacts if a.path == previews[0].diff_name), None)
        return (shown.path, line) if shown is not None and shown.diff is not None and shown.verdict is None else None

    def action_comment(self) -> None:
        target = self._comment_target()
        if target is not None:
            modal = RepromptModal([self.agent], busy=[], title=comment_title(target[1]))
            self.app.push_screen(modal, lambda answer: self._commented(*target, answer))

    def _commented(self, path: str, line: DiffLine, answer: RepromptAnswer | None) -> None:
        if answer is not None and not answer.drop and answer.text.strip():
            self.cockpit.control.review(self.agent, path, accept=False, note=comment_note(line, answer.text))

    def action_open_artifact(self) -> None:
        artifact = self.query_one(ArtifactList).selected
        if artifact is not None:
            open_artifact(self, self.cockpit.fleet.out_root, artifact.path)

    def _preview_selected(self) -> None:
        artifact = self.query_one(ArtifactList).selected
        if artifact is None or self._previewed == (artifact.path, artifact.sha256, artifact.diff):
            return
        self._previewed = (artifact.path, artifact.sha256, artifact.diff)
        root = self.cockpit.fleet.out_root
        if root is None:
            self.query_one(ArtifactPreview).show_message(artifact.path, "the session's output folder is not on this machine")
            return
        try:
            file = opener.artifact_file(root, artifact.path)
        except opener.OutsideOutFolder as refused:
            self.query_one(ArtifactPreview).show_message(artifact.path, str(refused))
            return
        self.run_worker(self._load_preview(file, artifact.path), group="preview", exclusive=True, exit_on_error=False)

    async def _load_preview(self, file: Path, name: str) -> None:
        try:
            text = await asyncio.to_thread(read_preview, file)
        except PreviewUnavailable as problem:
            self.post_message(self.PreviewLoaded(name, None, str(problem)))
        else:
            self.post_message(self.PreviewLoaded(name, text, None))

    def on_agent_screen_preview_loaded(self, message: PreviewLoaded) -> None:
        preview = self.query_one(ArtifactPreview)
        diff = self._diff_of(message.path)
        if message.text is not None and diff is not None:
            preview.show_diff(message.path, diff, message.text)
        elif message.text is not None:
            preview.show_text(message.path, message.text)
        else:
            preview.show_message(message.path, message.problem or "")

    def _diff_of(self, path: str) -> ev.DiffSummary | None:
        agent = self.state.agents.get(self.agent)
        return next((a.diff for a in agent.artifacts if a.path == path), None) if agent else None

    def action_back(self) -> None:
        self.dismiss()
