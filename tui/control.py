"""Supervision from the keyboard: turns a key's intent into supervisor commands.

A command that does not apply (`CommandError`) becomes a notice, never a crash; a reprompt
for a busy agent is queued in the supervisor (`QueueReprompt`), which sends it at the agent's
next safe point, so it outlives this TUI and every attached one sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.commands import CommandError
from tokenmaxx.agents.reprompt_queue import is_busy
from tokenmaxx.tui.fleet_view import FleetView
from tokenmaxx.tui.format import plural

Notify = Callable[[str, str], None]
"""notify(message, severity) with severity "information", "warning" or "error"."""


class Control:
    """Sends commands to one fleet and says what went wrong."""

    def __init__(self, fleet: FleetView, notify: Notify) -> None:
        self.fleet = fleet
        self.notify = notify

    def send(self, command: cmd.Command) -> bool:
        """Hand `command` to the fleet; False (and a notice) when it does not apply."""
        try:
            self.fleet.handle(command)
        except CommandError as error:
            self.notify(str(error), "warning")
            return False
        return True

    def kill(self, names: Iterable[str]) -> None:
        for name in names:
            self.send(cmd.Kill(agent=name))

    def toggle_pause(self, names: Iterable[str]) -> None:
        """Resume the agents paused (or asked to pause) and pause the others at their next safe point."""
        agents = self.fleet.state.agents
        for name in names:
            if name in agents and (agents[name].pausing or agents[name].status == "paused"):
                self.send(cmd.Resume(agent=name))
            elif self.send(cmd.Pause(agent=name)):
                self.notify(f"{name} pauses at its next safe point (p again resumes it)", "information")

    def restart(self, names: Iterable[str]) -> None:
        for name in names:
            self.send(cmd.Restart(agent=name))

    def reprompt(self, names: Iterable[str], text: str, *, now: bool = False) -> list[str]:
        """Send `text` to each idle agent (or all, with `now`) at once and queue it for each busy one; returns the queued names."""
        queued = []
        agents = self.fleet.state.agents
        for name in names:
            agent = agents.get(name)
            if agent is not None and is_busy(agent) and not now:
                if self.send(cmd.QueueReprompt(agent=name, text=text)):
                    queued.append(name)
            else:
                self.send(cmd.Reprompt(agent=name, text=text))
        if queued:
            self.notify(f"{', '.join(queued)} busy: the message waits for a safe point (r to edit or drop it)", "information")
        return queued

    def drop_reprompt(self, name: str) -> bool:
        """Drop the message waiting for `name`, if one still waits."""
        agent = self.fleet.state.agents.get(name)
        return agent is not None and bool(agent.queued_reprompt) and self.send(cmd.DropReprompt(agent=name))

    def queued(self, name: str) -> str | None:
        """The message waiting for `name`'s next safe point, if any."""
        agent = self.fleet.state.agents.get(name)
        return agent.queued_reprompt or None if agent is not None else None

    def review(self, agent: str, path: str, *, accept: bool, note: str = "") -> bool:
        """Accept or reject a deliverable; overturning an earlier verdict says so, since a slipped key would go unseen."""
        shown = self.fleet.state.agents.get(agent)
        before = next((a.verdict for a in shown.artifacts if a.path == path), None) if shown else None
        command = cmd.Accept(agent=agent, path=path) if accept else cmd.Reject(agent=agent, path=path, note=note)
        sent = self.send(command)
        after = "accepted" if accept else "rejected"
        if sent and before is not None and before != after:
            self.notify(f"{path}: {before} → {after}", "information")
        return sent

    def decide(self, agent: str, call_id: str, *, approve: bool, always: bool = False) -> bool:
        command = cmd.Approve(agent=agent, call_id=call_id, always=always) if approve else cmd.Deny(agent=agent, call_id=call_id)
        return self.send(command)

    def stop_all(self) -> None:
        """Stop every running agent now, and say which key brings them back."""
        if self.send(cmd.StopAll()):
            stopped = len(self.fleet.state.stopped)
            self.notify(f"stopped {plural(stopped, 'agent')}: S resumes them", "information")

    def resume_all(self) -> None:
        """Resume the set a previous stop-all stopped."""
        if self.send(cmd.ResumeAll()):
            self.notify("resumed the agents stop-all stopped", "information")
