"""How the supervisor carries out commands: each is checked, recorded as a `supervisor_action`, then done.

`handle` never blocks: killing, restarting, reprompting and stopping all cancel tasks; the
agent's own task records what follows (its `agent_finished`, its next turn, its pause). A
reprompt queued for a busy agent waits in `reprompts` and is sent once an event shows the agent
at a safe point.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.commands import CommandError
from tokenmaxx.agents.conversation import reprompt_text
from tokenmaxx.agents.reprompt_queue import RepromptQueue
from tokenmaxx.agents.runs import AgentRun
from tokenmaxx.agents.worktree_runs import rework_text
from tokenmaxx.sessions import events as ev

if TYPE_CHECKING:
    from tokenmaxx.agents.plan import Plan
    from tokenmaxx.agents.worktree_runs import AgentWorktrees
    from tokenmaxx.sessions.state import ArtifactInfo
    from tokenmaxx.sessions.state import FleetState

STOPPED_NOTE = "The supervisor stopped you mid-turn and has now resumed you. Carry on from where you stopped."

class CommandHandling:
    """The command half of the supervisor; the lifecycle half provides `launch` and the state."""

    plan: Plan
    runs: dict[str, AgentRun]
    worktrees: AgentWorktrees
    reprompts: RepromptQueue
    _delivery_due = False

    @property
    def state(self) -> FleetState:
        raise NotImplementedError

    def emit(self, event: ev.Event) -> ev.Event:
        raise NotImplementedError

    def launch(self, run: AgentRun, *, fresh: bool) -> None:
        raise NotImplementedError

    def handle(self, command: cmd.Command) -> None:
        """Carry out a command; raises CommandError when it does not apply now."""
        match command:
            case cmd.StopAll() | cmd.ResumeAll():
                self._fleet_command(command)
                return
            case _:
                run = self._run_for(command.agent)
        match command:
            case cmd.Kill():
                self._require_unfinished(run)
                self.reprompts.drop(run.name)
                self._record(command)
                self._stop(run, "kill")
            case cmd.Pause():
                self._require_unfinished(run)
                if run.paused:
                    raise CommandError(f"{run.name} is already paused")
                self._record(command)
                run.pause()
            case cmd.Resume():
                if not run.paused:
                    raise CommandError(f"{run.name} is not paused")
                self._record(command, text=self._take_interruption(run))
                run.resume()
            case cmd.Reprompt():
                self._reprompt(run, command)
            case cmd.QueueReprompt() | cmd.DropReprompt():
                self._queue(run, command)
            case cmd.Restart():
                self.reprompts.drop(run.name)
                self._record(command)
                self._restart(run)
            case cmd.Approve() | cmd.Deny():
                self._decide(run, command)
            case cmd.Accept() | cmd.Reject():
                self._review(run, command)

    def _run_for(self, agent: str) -> AgentRun:
        run = self.runs.get(agent)
        if run is None:
            raise CommandError(f"no agent called {agent!r} in this session")
        return run

    def _require_unfinished(self, run: AgentRun) -> None:
        if self.state.agents[run.name].finished:
            raise CommandError(f"{run.name} has already finished ({self.state.agents[run.name].status})")

    def _record(self, command: cmd.Command, agent: str | None = None, text: str = "") -> None:
        name = agent if agent is not None else getattr(command, "agent", None)
        self.emit(ev.SupervisorAction(agent=name, action=command.action, text=text, by=command.by))

    def _fleet_command(self, command: cmd.StopAll | cmd.ResumeAll) -> None:
        if isinstance(command, cmd.StopAll):
            self._stop_all(command)
        else:
            self._resume_all(command)

    def _stop_all(self, command: cmd.StopAll) -> None:
        """Pause every running agent and cut its turn short: a stalled stream, a tool or an approval in waiting."""
        targets = [r for r in self.runs.values() if not r.paused and not self.state.agents[r.name].finished]
        if not targets:
            raise CommandError("no agent is running")
        self._record(command)
        for run in targets:
            run.pause()
            if run.turn_task is not None and not run.turn_task.done():
                run.interrupted = True
                run.turn_task.cancel()

    def _resume_all(self, command: cmd.ResumeAll) -> None:
        stopped = [self.runs[name] for name in self.state.stopped if name in self.runs]
        if not stopped:
            raise CommandError("nothing was stopped with stop-all")
        self._record(command)
        for run in stopped:
            note = self._take_interruption(run)
            if note:
                self._record(cmd.Resume(agent=run.name, by=command.by), text=note)
            run.resume()

    def _take_interruption(self, run: AgentRun) -> str:
        """The note telling an agent whose turn stop-all cut short that it goes on, now in its conversation; else ""."""
        if not run.interrupted:
            return ""
        run.interrupted = False
        run.note(reprompt_text(STOPPED_NOTE))
        return STOPPED_NOTE

    def _queue(self, run: AgentRun, command: cmd.QueueReprompt | cmd.DropReprompt) -> None:
        """Queue a message for the agent's next safe point (replacing one waiting), or drop the one waiting."""
        if isinstance(command, cmd.DropReprompt):
            if not self.reprompts.drop(run.name):
                raise CommandError(f"no message waits for {run.name}")
            self._record(command)
            return
        text = command.text.strip()
        if not text:
            raise CommandError("a reprompt needs a message")
        self._record(command, text=text)
        self.reprompts.put(self.state.agents[run.name], text, command.by)
        self._deliver_soon()

    def reprompts_heard(self, event: ev.Event, state: FleetState) -> None:
        """After an event, while messages wait, look (outside the emit) for agents that reached a safe point."""
        if len(self.reprompts):
            self._deliver_soon()

    def _deliver_soon(self) -> None:
        if not self._delivery_due:
            self._delivery_due = True
            asyncio.get_running_loop().call_soon(self._deliver_due)

    def _deliver_due(self) -> None:
        """Send the queued reprompts whose agents reached a safe point, as their senders asked."""
        self._delivery_due = False
        for queued in self.reprompts.due(self.state.agents):
            with contextlib.suppress(CommandError):  # its agent went from the plan meanwhile
                self.handle(cmd.Reprompt(agent=queued.agent, text=queued.text, by=queued.by))

    def _reprompt(self, run: AgentRun, command: cmd.Reprompt) -> None:
        text = command.text.strip()
        if not text:
            raise CommandError("a reprompt needs a message")
        self.reprompts.drop(run.name)
        self._record(command, text=text)
        run.interrupted = False
        run.note(reprompt_text(text))
        if self.state.agents[run.name].finished or run.task is None or run.task.done():
            self.launch(run, fresh=False)
        elif run.turn_task is not None and not run.turn_task.done():
            run.turn_task.cancel()
        if run.paused:
            run.resume()

    def _restart(self, run: AgentRun) -> None:
        if run.task is not None and not run.task.done():
            self._stop(run, "restart")
            return
        self.launch(run, fresh=True)
        for name in self.plan.dependants(run.name, transitive=True):
            if name in self.runs and self.state.agents[name].outcome == "skipped":
                self.launch(self.runs[name], fresh=True)

    def _stop(self, run: AgentRun, reason: str) -> None:
        run.stop_reason = reason
        run.interrupted = False
        run.resume()
        if run.task is not None:
            run.task.cancel()

    def _decide(self, run: AgentRun, command: cmd.Approve | cmd.Deny) -> None:
        waiting = run.approvals.get(command.call_id)
        if waiting is None or waiting.done():
            raise CommandError(f"{run.name} is not waiting for approval of call {command.call_id}")
        self._record(command)
        approved = isinstance(command, cmd.Approve)
        if approved and command.always:
            run.always_allowed.add(run.approval_tools[command.call_id])
        waiting.set_result((approved, command.by))

    def _review(self, run: AgentRun, command: cmd.Accept | cmd.Reject) -> None:
        agent = self.state.agents[run.name]
        artifact = next((a for a in agent.artifacts if a.path == command.path), None)
        if artifact is None:
            raise CommandError(f"{run.name} has no deliverable {command.path}")
        if artifact.diff is not None:
            self._review_diff(run, command, artifact)
            return
        self._record(command, text=command.note)
        verdict = "accepted" if isinstance(command, cmd.Accept) else "rejected"
        self.emit(ev.ArtifactReview(agent=run.name, path=command.path, verdict=verdict, note=command.note))

    def _review_diff(self, run: AgentRun, command: cmd.Accept | cmd.Reject, artifact: ArtifactInfo) -> None:
        """Accept a finished agent's diff by merging it (in a task); reject it, a note going back to the agent as rework."""
        if not self.state.agents[run.name].finished:
            raise CommandError(f"{run.name} is still working on its diff: review it once it has finished")
        if artifact.verdict is not None:
            raise CommandError(f"{run.name}'s diff was already {artifact.verdict}")
        self._record(command, text=command.note)
        if isinstance(command, cmd.Accept):
            self.worktrees.accept(run.name, artifact)
            return
        self.emit(ev.ArtifactReview(agent=run.name, path=command.path, verdict="rejected", note=command.note))
        if command.note.strip():
            self._reprompt(run, cmd.Reprompt(agent=run.name, text=rework_text(command.note.strip()), by=command.by))
