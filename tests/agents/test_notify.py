"""Notifications: which events tap the person on the shoulder, once a minute at most, and the desktop and hook sinks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tokenmaxx.agents.confinement import sandbox_notices
from tokenmaxx.agents.notify import (
    DesktopSink,
    HookSink,
    Notifications,
    Notifier,
    NotifySettings,
    desktop_argv,
    desktop_program,
    fleet_notifications,
    fleet_sinks,
    run_bounded,
)
from tokenmaxx.agents.plan import PlanError
from tokenmaxx.agents.plan_models import NotifySpec
from tokenmaxx.agents.tools.process import group_alive
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import EventLog
from tokenmaxx.sessions.state import initial_state
from tests.agents.scripted import make_plan

T0 = 1_767_225_600.0


class ListSink:
    """Stamps seqs and keeps nothing."""

    def __init__(self) -> None:
        self.seq = 0

    def append(self, session_id: str, event: ev.Event) -> ev.Event:
        self.seq += 1
        return event.model_copy(update={"session_id": session_id, "seq": self.seq})

    def append_snapshot(self, session_id: str, seq: int, state_json: str) -> None:
        return None


def flag(at: float, agent: str = "charts", kind: ev.Flag = "stalled", detail: str = "no event for 60s") -> ev.AgentFlagged:
    return ev.AgentFlagged(agent=agent, flag=kind, detail=detail, ts=T0 + at)


def kinds_told(notifier: Notifier, events: list[ev.Event]) -> list[tuple[str, str]]:
    notices = [notifier.notice(event, initial_state()) for event in events]
    return [(notice.kind, notice.agent) for notice in notices if notice is not None]


def test_a_flag_repeated_within_a_minute_is_told_once_and_again_after_it() -> None:
    told = kinds_told(Notifier(), [flag(0), flag(30), flag(59.9), flag(60), flag(100)])
    assert told == [("stalled", "charts"), ("stalled", "charts")]


def test_the_minute_is_counted_per_agent_and_kind() -> None:
    events: list[ev.Event] = [flag(0), flag(1, agent="deck"), flag(2, kind="looping"), flag(3)]
    assert kinds_told(Notifier(), events) == [("stalled", "charts"), ("stalled", "deck"), ("looping", "charts")]


def test_approvals_failures_and_deliveries_are_told_and_other_endings_not() -> None:
    events: list[ev.Event] = [
        ev.ApprovalRequested(agent="a", call_id="c1", tool="run_command", args={"command": "make"}),
        ev.AgentFinished(agent="b", outcome="failed", summary="TASK FAILED"),
        ev.AgentFinished(agent="c", outcome="done", summary="wrote it"),
        ev.AgentFinished(agent="d", outcome="killed"),
        ev.AgentFinished(agent="e", outcome="skipped"),
        ev.Text(agent="f", text="hello"),
    ]
    assert kinds_told(Notifier(), events) == [("approval", "a"), ("failed", "b"), ("delivered", "c")]


def test_kinds_switched_off_are_not_told() -> None:
    events: list[ev.Event] = [flag(0), flag(1, kind="burning"), ev.AgentFinished(agent="c", outcome="done")]
    assert kinds_told(Notifier(["burning"]), events) == [("burning", "charts")]


def test_a_config_naming_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kinds"):
        NotifySettings.model_validate({"kinds": ["stalled", "lunch"]})


def recording_hook(tmp_path: Path) -> str:
    """A shell command appending the JSON it reads, then its environment, each as one line."""
    return f"cat >> {tmp_path}/hook.jsonl && echo >> {tmp_path}/hook.jsonl && env >> {tmp_path}/hook.env"


async def test_the_hook_receives_each_notice_once_as_valid_json_and_none_of_the_fleets_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    monkeypatch.setenv("SLACK_URL", "https://hooks.example/x")
    settings = NotifySettings(command=recording_hook(tmp_path), env_pass=["SLACK_URL"])
    log = EventLog(ListSink(), "s1")
    notifications = fleet_notifications(settings, NotifySpec())
    log.subscribe(notifications)
    for event in [flag(0, detail='"quoted" \x1b]52;c;x\x07'), flag(10), flag(70)]:
        log.emit(event)
    await notifications.aclose()
    told = [json.loads(line) for line in (tmp_path / "hook.jsonl").read_text().splitlines()]
    assert [(notice["kind"], notice["agent"], notice["event"]["ts"]) for notice in told] == [("stalled", "charts", T0), ("stalled", "charts", T0 + 70)]
    assert told[0]["title"] == "charts is stalled" and told[0]["event"]["detail"] == '"quoted" \x1b]52;c;x\x07'
    assert told[0]["session_id"] == "s1" and told[0]["version"] == 1
    env = (tmp_path / "hook.env").read_text()
    assert "SLACK_URL=https://hooks.example/x" in env and "sk-secret" not in env


async def test_a_hook_that_fails_or_hangs_is_ended_and_raises_nothing(tmp_path: Path) -> None:
    assert await run_bounded(["/bin/sh", "-c", "exit 3"], {"PATH": os.defpath}, b"{}", 5) == 3
    hung = f"sleep 30 & echo $! > {tmp_path}/pid; wait"
    assert await run_bounded(["/bin/sh", "-c", hung], {"PATH": os.defpath}, b"{}", 0.5) is None
    assert not group_alive(int((tmp_path / "pid").read_text()))
    sink = HookSink("exit 1", {"PATH": os.defpath})
    sink.send(Notifier().notice(flag(0), initial_state()))  # type: ignore[arg-type]
    await sink.aclose()


def fake_notify_send(tmp_path: Path) -> Path:
    """A `notify-send` on a PATH of its own that appends its arguments, NUL-separated, to a file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "notify-send"
    script.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" >> {tmp_path}/argv\nprintf '\\n' >> {tmp_path}/argv\n")
    script.chmod(0o755)
    return bin_dir


async def test_the_desktop_is_told_once_per_flag_through_notify_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{fake_notify_send(tmp_path)}:{os.environ['PATH']}")
    sinks = fleet_sinks(NotifySettings(), NotifySpec(), desktop=desktop_program)
    assert [type(sink) for sink in sinks] == [DesktopSink]
    notifications = Notifications(Notifier(), sinks)
    log = EventLog(ListSink(), "s1")
    log.subscribe(notifications)
    for event in [flag(0, detail="<b>-x</b> & more"), flag(5), flag(61)]:
        log.emit(event)
    await notifications.aclose()
    calls = [call.split("\0")[:-1] for call in (tmp_path / "argv").read_text().splitlines()]
    assert calls[0] == ["--app-name=tokenmaxx", "--", "tokenmaxx: charts is stalled", "&lt;b&gt;-x&lt;/b&gt; &amp; more"]
    assert len(calls) == 2


def test_no_desktop_program_no_desktop_sink_and_switched_off_none_either(tmp_path: Path) -> None:
    assert desktop_program(which=lambda name: None, platform="linux") is None
    assert fleet_sinks(NotifySettings(), NotifySpec(), desktop=lambda: None) == []
    assert fleet_sinks(NotifySettings(desktop=False), NotifySpec(), desktop=lambda: "/usr/bin/notify-send") == []
    found = desktop_program(which=lambda name: f"/usr/bin/{name}" if name == "osascript" else None, platform="darwin")
    assert found == "/usr/bin/osascript"


def test_osascript_gets_the_text_as_arguments_never_inside_its_script() -> None:
    notice = Notifier().notice(flag(0, agent="charts", detail='" & do shell script "rm -rf ~'), initial_state())
    assert notice is not None
    argv = desktop_argv("/usr/bin/osascript", notice)
    scripts = [argv[index + 1] for index, part in enumerate(argv) if part == "-e"]
    assert all("rm -rf" not in script for script in scripts)
    assert argv[-2:] == ["tokenmaxx: charts is stalled", '" & do shell script "rm -rf ~']


def test_the_plans_command_comes_before_the_configs() -> None:
    sinks = fleet_sinks(NotifySettings(command="echo config"), NotifySpec(command="echo plan"), desktop=lambda: None)
    assert [sink.command for sink in sinks if isinstance(sink, HookSink)] == ["echo plan"]



def test_a_plan_may_name_its_hook_but_never_pass_it_a_provider_key(tmp_path: Path) -> None:
    agents = '[[agents]]\nname = "a"\nrole = "critic"\ntask = "Read."\n'
    plan = make_plan(tmp_path, agents, '[notify]\ncommand = "ntfy"\nenv_pass = ["NTFY_TOPIC"]\n')
    assert plan.notify == NotifySpec(command="ntfy", env_pass=["NTFY_TOPIC"])
    with pytest.raises(PlanError, match="notify.env_pass"):
        make_plan(tmp_path, agents, '[notify]\nenv_pass = ["ANTHROPIC_API_KEY"]\n')


def test_the_plans_hook_is_named_among_what_runs_unconfined(tmp_path: Path) -> None:
    agents = '[[agents]]\nname = "a"\nrole = "critic"\ntask = "Read."\n'
    plan = make_plan(tmp_path, agents, '[notify]\ncommand = "ntfy"\n')
    assert sandbox_notices(plan)[-1] == "[notify] command runs unconfined at every notice: ntfy"
    assert sandbox_notices(make_plan(tmp_path, agents)) == []
