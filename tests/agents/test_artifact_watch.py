"""Artifact watching on a real out folder: files made outside write_file become artifacts, once per content."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents.artifact_watch import already_reported
from tokenmaxx.agents.providers.base import ModelRequest
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.log import EventLog
from tokenmaxx.sessions.state import FleetState, reduce_all
from tests.agents.scripted import Hang, MemorySink, ScriptedProvider, Step, make_plan, reply, until

WAIT_S = 10.0
ONE_AGENT = '\n[[agents]]\nname = "a"\nrole = "chart-builder"\ntask = "Work."\npolicy = { run_command = "auto" }\n'


def hanging(request: ModelRequest) -> list[Step]:
    return [*reply("working ")[:1], Hang()]


async def started(tmp_path: Path, script=hanging, agents: str = ONE_AGENT) -> tuple[Supervisor, MemorySink, Path]:  # type: ignore[no-untyped-def]
    """A running supervisor whose out-folder watch is in place, and agent a's out folder."""
    sink = MemorySink()
    sup = Supervisor(make_plan(tmp_path, agents), store=None, log=EventLog(sink, "s1"), providers={"sim": ScriptedProvider(script)})
    await sup.start()
    assert sup.artifact_watch is not None
    await sup.artifact_watch.ready.wait()
    return sup, sink, sup.out_root / "a"


def artifacts(sink: MemorySink, path: str | None = None) -> list[ev.Artifact]:
    return [e for e in sink.events if isinstance(e, ev.Artifact) and (path is None or e.path == path)]


async def arrived(sink: MemorySink, path: str) -> ev.Artifact:
    await until(lambda: bool(artifacts(sink, path)), WAIT_S)
    return artifacts(sink, path)[-1]


async def stop(sup: Supervisor) -> None:
    if not sup.state.agents["a"].finished:
        sup.handle(cmd.Kill(agent="a"))
    async with asyncio.timeout(WAIT_S):
        await sup.wait()
    await sup.finish()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_a_file_made_by_run_command_is_an_artifact_within_a_second_and_reported_once(tmp_path: Path) -> None:
    command = 'printf early > early.txt; while [ ! -e "$TOKENMAXX_PROJECT/go" ]; do sleep 0.02; done'

    def script(request: ModelRequest) -> list[Step]:
        if len(request.messages) == 1:
            return reply("", ("run_command", {"command": command}))
        return reply("Done.")

    sup, sink, out = await started(tmp_path, script)
    artifact = await arrived(sink, "a/early.txt")
    assert artifact.ts - (out / "early.txt").stat().st_mtime < 1.0
    assert (artifact.agent, artifact.bytes, artifact.sha256) == ("a", 5, sha(b"early"))
    assert sup.state.agents["a"].status == "tool"
    (tmp_path / "project" / "go").touch()
    await until(lambda: sup.state.agents["a"].finished, WAIT_S)
    assert "early.txt" in sink.of("a", "tool_result")[0].output
    await stop(sup)
    assert len(artifacts(sink, "a/early.txt")) == 1


async def test_a_file_written_after_the_command_by_another_process_is_an_artifact_within_a_second(tmp_path: Path) -> None:
    sup, sink, out = await started(tmp_path)
    await until(lambda: sup.state.agents["a"].status == "streaming")
    data = b"day,failures\n2026-11-01,3\n"
    written_at = time.time()
    (out / "deep" / "er").mkdir(parents=True)
    (out / "deep" / "er" / "late.csv").write_bytes(data)
    artifact = await arrived(sink, "a/deep/er/late.csv")
    assert artifact.ts - written_at < 1.0
    assert (artifact.bytes, artifact.sha256) == (len(data), sha(data))
    info = sup.state.agents["a"].artifacts[-1]
    assert (info.path, info.bytes, info.sha256) == ("a/deep/er/late.csv", len(data), sha(data))
    await stop(sup)


async def test_a_file_written_in_pieces_is_reported_once_it_settles(tmp_path: Path) -> None:
    sup, sink, out = await started(tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    pieces = [f"line {n}\n".encode() * 200 for n in range(5)]
    with (out / "slow.txt").open("wb") as file:
        for piece in pieces:
            file.write(piece)
            file.flush()
            await asyncio.sleep(0.04)
    artifact = await arrived(sink, "a/slow.txt")
    assert artifact.sha256 == sha(b"".join(pieces))
    (out / "sentinel.txt").write_text("s")
    await arrived(sink, "a/sentinel.txt")
    assert len(artifacts(sink, "a/slow.txt")) == 1
    await stop(sup)


async def test_a_file_written_with_write_file_is_not_reported_twice(tmp_path: Path) -> None:
    def script(request: ModelRequest) -> list[Step]:
        if len(request.messages) == 1:
            return reply("", ("write_file", {"path": "note.md", "content": "# note\n"}))
        return [*reply("written ")[:1], Hang()]

    sup, sink, out = await started(tmp_path, script)
    await arrived(sink, "a/note.md")
    await until(lambda: len(artifacts(sink)) == 1 and sup.state.agents["a"].turn == 2, WAIT_S)
    (out / "sentinel.txt").write_text("s")
    await arrived(sink, "a/sentinel.txt")
    assert [e.path for e in artifacts(sink)] == ["a/note.md", "a/sentinel.txt"]
    await stop(sup)


async def test_new_content_is_reported_again_and_replaces_the_old(tmp_path: Path) -> None:
    sup, sink, out = await started(tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    (out / "chart.svg").write_text("<svg/>")
    await arrived(sink, "a/chart.svg")
    (out / "chart.svg").write_text("<svg><g/></svg>")
    await until(lambda: len(artifacts(sink, "a/chart.svg")) == 2, WAIT_S)
    [info] = sup.state.agents["a"].artifacts
    assert info.sha256 == sha(b"<svg><g/></svg>") and info.bytes == 15
    await stop(sup)


async def test_inputs_temporary_hidden_and_ownerless_files_are_ignored(tmp_path: Path) -> None:
    sup, sink, out = await started(tmp_path)
    root = sup.out_root
    for relative in ("inputs/talk-notes.md", "a/draft.tmp", "a/notes.md~", "a/.hidden", "a/.cache/x.txt", "top.txt", "zzz/other.txt"):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text("ignored")
    (root / "a" / "folder").mkdir()
    (root / "a" / "sentinel.txt").write_text("s")
    await arrived(sink, "a/sentinel.txt")
    (root / "a" / "second.txt").write_text("s2")
    await arrived(sink, "a/second.txt")
    assert [e.path for e in artifacts(sink)] == ["a/sentinel.txt", "a/second.txt"]
    await stop(sup)


async def test_owner_names_the_agent_whose_folder_holds_the_file(tmp_path: Path) -> None:
    sup, sink, out = await started(tmp_path)
    watch = sup.artifact_watch
    assert watch is not None
    root = sup.out_root
    assert watch.owner(root / "a" / "x" / "y.csv") == "a"
    for ignored in ("a/x.tmp", "a/.x", "inputs/a.md", "top.txt", "b/y.txt", "a/.git/config"):
        assert watch.owner(root / ignored) is None, ignored
    assert watch.owner(tmp_path / "elsewhere" / "a" / "y.txt") is None
    await stop(sup)


async def test_the_watch_is_a_named_task_drained_by_finish(tmp_path: Path) -> None:
    sup, sink, out = await started(tmp_path)
    watch = sup.artifact_watch
    assert watch is not None and watch.task is not None and watch.task.get_name() == "artifact-watch"
    out.mkdir(parents=True, exist_ok=True)
    (out / "unsettled.txt").write_text("x")
    await stop(sup)
    assert watch.task.done() and all(t.done() for t in asyncio.all_tasks() if t.get_name().startswith("artifact"))


async def test_a_file_written_just_before_the_end_is_recorded_before_the_finish_and_handed_along(tmp_path: Path) -> None:
    agents = ONE_AGENT + '\n[[agents]]\nname = "b"\nrole = "critic"\ntask = "Review."\nafter = ["a"]\n'
    sink = MemorySink()
    plan = make_plan(tmp_path, agents)
    late = plan.out / "s1" / "a" / "late.md"

    def script(request: ModelRequest) -> list[Step]:
        if not late.exists():
            late.parent.mkdir(parents=True, exist_ok=True)
            late.write_text("# written by the agent itself\n")
        return reply("Done.")

    sup = Supervisor(plan, store=None, log=EventLog(sink, "s1"), providers={"sim": ScriptedProvider(script)}, out_root=plan.out / "s1")
    await sup.start()
    async with asyncio.timeout(WAIT_S):
        await sup.wait()
    await sup.finish()
    kinds = [(e.kind, e.agent) for e in sink.events if e.kind in ("artifact", "agent_finished")]
    assert kinds == [("artifact", "a"), ("agent_finished", "a"), ("agent_finished", "b")]
    assert artifacts(sink)[0].sha256 == sha(b"# written by the agent itself\n")
    started_b = [e for e in sink.of("b", "agent_status") if e.status == "starting"]
    assert started_b[0].inputs == ["a/late.md"]


def test_already_reported_needs_the_same_agent_path_and_content() -> None:
    state: FleetState = reduce_all([ev.Artifact(agent="a", path="a/x.md", bytes=1, sha256="s1")])
    assert already_reported(state, ev.Artifact(agent="a", path="a/x.md", bytes=1, sha256="s1"))
    assert not already_reported(state, ev.Artifact(agent="a", path="a/x.md", bytes=1, sha256="s2"))
    assert not already_reported(state, ev.Artifact(agent="a", path="a/y.md", bytes=1, sha256="s1"))
    assert not already_reported(state, ev.Artifact(agent="b", path="a/x.md", bytes=1, sha256="s1"))
