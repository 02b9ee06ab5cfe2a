"""After a resume, an agent's summary is the conclusion of its final reply, never a fragment of the resume note.

The agent stalls in its last turn (turn 4 of the generic policy: list, read, write, conclude), the
session is stopped there, and the resumed agent's next reply is its conclusion, after it acknowledges the note.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tokenmaxx.agents.plan import load_plan
from tokenmaxx.agents.resume import RESUME_NOTE, resume, resumed_supervisor
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.export import to_markdown
from tokenmaxx.sessions.store import Store
from tests.agents.scripted import until
from tokenmaxx.tui.headless import ProgressPrinter

PLAN = """
name = "resumable"
workdir = "project"
out = "out"

[providers.sim]
kind = "sim"
speed = 40

[roles.notetaker]
prompt = "You read files and take notes."

[[agents]]
name = "a"
role = "notetaker"
task = "Read the project's files and write notes.md about them."
sim = { stall_at_turn = 4 }
"""


async def test_a_resumed_agents_summary_is_its_conclusion(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "README.md").write_text("# A project\n\nIt does things.\n")
    (tmp_path / "fleet.toml").write_text(PLAN)
    plan = load_plan(tmp_path / "fleet.toml")
    lines: list[str] = []
    async with await Store.open(tmp_path / "s.db") as store:
        first = Supervisor.create(plan, store, headless=True)
        await first.start()
        await until(lambda: first.state.agents["a"].turn == 4 and first.state.agents["a"].status == "streaming", timeout=20)
        await first.finish("stopped")
        await store.flush()
        second, events = await resumed_supervisor(store, first.session_id, headless=True)
        second.log.subscribe(ProgressPrinter(lines.append))
        await resume(second, events)
        async with asyncio.timeout(30):
            await second.wait()
        await second.finish()
        await store.flush()
        recorded = await store.events(first.session_id)
    agent = second.state.agents["a"]
    assert agent.outcome == "done" and agent.summary.startswith("notes.md is written"), agent.summary
    assert "Carry on from where you stopped" not in agent.summary
    assert any(isinstance(e, ev.SupervisorAction) and e.text == RESUME_NOTE for e in recorded)
    (done,) = [line for line in lines if "DONE:" in line]
    assert done.split("DONE: ", 1)[1].startswith("notes.md is written")
    assert f"**Finished: done**\n\n{agent.summary}" in to_markdown(recorded)


async def test_a_long_conclusion_is_cut_at_a_sentence_never_inside_one(tmp_path: Path) -> None:
    from tests.agents.scripted import reply
    from tests.agents.test_supervisor import run_to_end, supervisor

    said = " ".join(f"Finding {i} holds for the module, as the tests show." for i in range(20))
    sup, sink, provider = supervisor(tmp_path, lambda request: reply(f"Preamble.\n\n{said}"))
    await run_to_end(sup)
    summary = sup.state.agents["a"].summary
    assert summary.startswith("…Finding ") and summary.endswith("Finding 19 holds for the module, as the tests show.")
    assert len(summary) <= 400
