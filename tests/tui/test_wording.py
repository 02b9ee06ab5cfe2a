"""Words on screen that said something untrue: waiting agents called running, a plan edit counted as an agent,
'resume resume', a half-cent budget rounded to a cent."""

from __future__ import annotations

from pathlib import Path

from tokenmaxx.agents.budget import _over
from tokenmaxx.agents.plan_models import Budget
from tokenmaxx.agents.resume import RESUME_NOTE
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.replay import Replay
from tokenmaxx.sessions.state import FleetState
from tokenmaxx.sessions.store import Store
from tests.tui.fake_fleet import T0
from tests.tui.helpers import SIZE, fleet_of, make_app, settle
from tokenmaxx.tui.headless import ProgressPrinter
from tokenmaxx.tui.screens.confirm import ConfirmModal
from tokenmaxx.tui.widgets.flag_banner import FlagBanner
from tokenmaxx.tui.widgets.transcript import describe

RESUMED = ev.SupervisorAction(agent="factcheck", action="resume", text=RESUME_NOTE, by="resume", ts=T0)


async def test_the_quit_dialog_tells_waiting_agents_from_running_ones(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        fleet = fleet_of(app)
        keep = {"charts", "review"}
        fleet.feed(*[ev.AgentFinished(agent=n, outcome="done") for n, a in fleet.state.agents.items() if not a.finished and n not in keep])
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert app.screen.question == "1 agent is still running (charts) and 1 agent is waiting (review). Quit and stop them?"


async def test_a_rejected_plan_edit_is_not_counted_as_an_agent_needing_you(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        needing = [a for a in app.fleet.state.agents.values() if not a.finished and (a.flags or a.pending)]
        fleet_of(app).feed(ev.PlanRejected(path="fleet.toml", error="line 3: bad", ts=T0 + 121))
        await settle(pilot)
        message = app.screen.query_one(FlagBanner).message
        assert message.startswith(f"plan edit rejected: fleet.toml: line 3: bad · ⚑ {len(needing)} agents need you: ")
        assert message.count("plan edit") == 1 and needing[0].name in message.split("⚑")[1]


async def test_a_resume_marker_names_the_action_once(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "s.db") as store:
        events = [ev.SessionStarted(name="n", plan="p", cwd="/", version="0"), RESUMED]
        session_id = await store.import_events([e.model_copy(update={"session_id": "feed00000001", "seq": i}) for i, e in enumerate(events, 1)])
        (marker,) = await (await Replay.open(store, session_id)).markers()
    assert marker.label.startswith("resume factcheck (tokenmaxx resume): The session was interrupted")


def test_resume_reads_as_its_command_in_the_headless_line_and_the_transcript() -> None:
    lines: list[str] = []
    ProgressPrinter(lines.append)(RESUMED.model_copy(update={"seq": 1}), FleetState())
    assert "tokenmaxx resume -> resume" in lines[0] and "resume -> resume" not in lines[0].replace("tokenmaxx resume -> resume", "")
    ((_, text),) = describe(RESUMED)
    assert text.startswith("⚑ tokenmaxx resume → resume: ")


def test_a_half_cent_budget_reads_as_itself() -> None:
    refusal = _over("the fleet's budget", Budget(usd=0.005), 0.004, 0, 0.002, 0)
    assert refusal is not None and refusal.startswith("the fleet's budget of $0.0050 cannot cover")
    assert (_over("x", Budget(usd=5.0), 5.0, 0, 0.1, 0) or "").startswith("x of $5.00 ")
