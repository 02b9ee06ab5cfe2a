"""A FleetView for tests: an EventLog on an in-memory sink, and a `handle` that records commands and answers them with events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.supervisor import CommandError
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import EventLog
from tokenmaxx.sessions.state import FleetState

T0 = 1_767_225_600.0
"""The sample session starts at 2026-01-01 00:00 UTC; the sample clock reads T0 + 125."""
NOW = T0 + 125.0


class MemorySink:
    """Stamps seqs and keeps every event."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def append(self, session_id: str, event: ev.Event) -> ev.Event:
        stamped = event.model_copy(update={"session_id": session_id, "seq": len(self.events) + 1})
        self.events.append(stamped)
        return stamped

    def append_snapshot(self, session_id: str, seq: int, state_json: str) -> None:
        return None


class FakeFleet:
    """Commands become the events a supervisor would emit; refusals raise CommandError as it would."""

    def __init__(self, *, live: bool = True, out_root: Path | None = None) -> None:
        self.sink = MemorySink()
        self.log = EventLog(self.sink, "sample")
        self.live = live
        self.out_root = out_root
        self.commands: list[cmd.Command] = []
        self.reads = 0

    @property
    def state(self) -> FleetState:
        return self.log.state

    @property
    def version(self) -> int:
        return self.log.version

    def feed(self, *events: ev.Event) -> None:
        for event in events:
            self.log.emit(event)

    def subscribe(self, callback: Callable[[ev.Event, FleetState], None]) -> Callable[[], None]:
        return self.log.subscribe(callback)

    async def read_agent_events(self, agent: str) -> list[ev.Event]:
        self.reads += 1
        return [e for e in self.sink.events if getattr(e, "agent", None) == agent]

    def handle(self, command: cmd.Command) -> None:
        self._check(command)
        self.commands.append(command)
        agent = getattr(command, "agent", None)
        effects = self._effects(command)
        self.feed(ev.SupervisorAction(agent=agent, action=command.action, text=getattr(command, "text", ""), ts=self._ts()))
        self.feed(*effects)

    def _ts(self) -> float:
        return max(self.state.last_ts, T0)

    def _check(self, command: cmd.Command) -> None:
        agents = self.state.agents
        name = getattr(command, "agent", None)
        if name is not None and name not in agents:
            raise CommandError(f"no agent called {name!r} in this session")
        agent = agents.get(name or "")
        if isinstance(command, (cmd.Kill, cmd.Pause)) and agent is not None and agent.finished:
            raise CommandError(f"{name} has already finished ({agent.status})")
        if isinstance(command, cmd.Resume) and agent is not None and agent.status != "paused":
            raise CommandError(f"{name} is not paused")
        if isinstance(command, cmd.ResumeAll) and not self.state.stopped:
            raise CommandError("nothing was stopped with stop-all")

    def _effects(self, command: cmd.Command) -> list[ev.Event]:  # noqa: C901 - one arm per command
        ts = self._ts()
        match command:
            case cmd.Kill():
                return [ev.AgentFinished(agent=command.agent, outcome="killed", summary="killed by the supervisor", ts=ts)]
            case cmd.Pause():
                return [ev.AgentStatusChanged(agent=command.agent, status="paused", ts=ts)]
            case cmd.Resume() | cmd.Restart() | cmd.Reprompt():
                return [ev.AgentStatusChanged(agent=command.agent, status="starting", ts=ts)]
            case cmd.Approve() | cmd.Deny():
                approved = isinstance(command, cmd.Approve)
                return [ev.ApprovalDecided(agent=command.agent, call_id=command.call_id, approved=approved, ts=ts)]
            case cmd.Accept() | cmd.Reject():
                verdict = "accepted" if isinstance(command, cmd.Accept) else "rejected"
                return [ev.ArtifactReview(agent=command.agent, path=command.path, verdict=verdict, note=command.note, ts=ts)]
            case cmd.StopAll():
                running = [a.name for a in self.state.agents.values() if not a.finished and a.status != "paused"]
                return [ev.AgentStatusChanged(agent=name, status="paused", ts=ts) for name in running]
            case cmd.ResumeAll():
                return [ev.AgentStatusChanged(agent=name, status="starting", ts=ts) for name in self.state.stopped]
            case _:
                return []
