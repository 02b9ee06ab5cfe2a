"""A fleet served on its socket and followed by RemoteFleet clients: same state, shared actions, no slow client slows it."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from tokenmaxx.agents import commands as cmd
from tokenmaxx.agents import wire
from tokenmaxx.agents.fleet_client import FleetConnection, command, find_fleets
from tokenmaxx.agents.serve import FleetServer
from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.state import reduce_all
from tokenmaxx.agents.providers.base import TextDelta
from tokenmaxx.agents.supervisor import Supervisor
from tokenmaxx.sessions.log import EventLog
from tests.agents.scripted import Hang, MemorySink, ScriptedProvider, make_plan, reply, until
from tests.agents.test_supervisor import ONE_AGENT, supervisor
from tokenmaxx.sessions.store import Store
from tokenmaxx.tui.fleet_cli import _closing
from tokenmaxx.tui.remote_fleet import RemoteFleet
from tokenmaxx.tui.runner import closing_line


def stalling(request):  # type: ignore[no-untyped-def]
    """Says a word, then hangs until reprompted; a reprompted agent finishes."""
    if "[supervisor]" in request.messages[-1].text:
        return reply("Carrying on, and done.")
    return [*reply("thinking ")[:1], Hang()]


async def served(tmp_path: Path, fleet_dir: Path, **options):  # type: ignore[no-untyped-def]
    sup, sink, _ = supervisor(tmp_path, stalling)
    server = FleetServer(sup, None, wire.socket_path("s1"), db_path=tmp_path / "s.db", **options)
    await server.start()
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming")
    return sup, sink, server


async def test_attach_detach_attach_again_reads_the_fleets_state(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    sup, sink, server = await served(tmp_path, fleet_runtime_dir)
    first = await RemoteFleet.attach(server.path, "tui:1")
    assert first.state == sup.state
    await first.close()
    sup.handle(cmd.Pause(agent="a"))
    second = await RemoteFleet.attach(server.path, "tui:2")
    assert second.state == sup.state == reduce_all(sink.events)
    second.handle(cmd.Reprompt(agent="a", text="go on"))
    await until(lambda: second.state.agents["a"].outcome == "done")
    assert second.state == sup.state
    await second.close()
    await sup.finish()
    await server.close("ended")


async def test_two_clients_see_each_others_actions_recorded_by_who_acted(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    sup, sink, server = await served(tmp_path, fleet_runtime_dir)
    one, two = await RemoteFleet.attach(server.path, "tui:1"), await RemoteFleet.attach(server.path, "tui:2")
    assert sorted(server.clients) == ["tui:1", "tui:2"]
    one.handle(cmd.Pause(agent="a"))
    await until(lambda: two.state.agents["a"].pausing)
    with pytest.raises(cmd.CommandError, match="already paused"):
        two.handle(cmd.Pause(agent="a"))
    actions = [e for e in sink.events if isinstance(e, ev.SupervisorAction)]
    assert [(a.action, a.by) for a in actions] == [("pause", "tui:1")]
    await until(lambda: one.state == two.state == sup.state)
    for client in (one, two):
        await client.close()
    await sup.finish()
    await server.close("ended")


async def test_a_refusal_only_the_fleet_knows_comes_back_as_a_notice(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    sup, _, server = await served(tmp_path, fleet_runtime_dir)
    client = await RemoteFleet.attach(server.path, "tui:1")
    notices: list[str] = []
    client.on_notice = lambda text, severity: notices.append(text)
    sup.runs["a"].pause()  # paused in the fleet, not yet in any state a client reads
    client.handle(cmd.Pause(agent="a"))
    await until(lambda: bool(notices))
    assert notices == ["a is already paused"]
    await client.close()
    await sup.finish()
    await server.close("ended")


async def test_ctl_sends_one_command_recorded_like_a_key(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    sup, sink, server = await served(tmp_path, fleet_runtime_dir)
    assert await command(server.path, "ctl:9", cmd.Kill(agent="a", by="ctl:9")) is None
    assert await command(server.path, "ctl:9", cmd.Kill(agent="nobody", by="ctl:9")) == "no agent called 'nobody' in this session"
    await until(lambda: sup.state.agents["a"].outcome == "killed")
    actions = [(e.action, e.agent, e.by) for e in sink.events if isinstance(e, ev.SupervisorAction)]
    assert actions == [("kill", "a", "ctl:9")]
    await sup.finish()
    await server.close("ended")


async def test_a_client_that_never_reads_is_dropped_and_the_others_get_everything(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    sup, sink, server = await served(tmp_path, fleet_runtime_dir, queue_frames=50, stuck_after_s=0)
    reader = await RemoteFleet.attach(server.path, "tui:1")
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(server.path))
    stuck.sendall(wire.line(wire.ClientHello(client="stuck")))
    await until(lambda: "stuck" in server.clients)
    for n in range(2_000):  # 8 MB: more than the kernel's socket buffers hold
        sup.emit(ev.Text(agent="a", text=f"{n:>8} " * 400))
        if n % 20 == 0:
            await asyncio.sleep(0)
    await until(lambda: "stuck" not in server.clients)
    assert server.dropped == 1
    await until(lambda: reader.state.seq == sup.state.seq)
    assert reader.state == sup.state
    stuck.close()
    await reader.close()
    await sup.finish()
    await server.close("ended")


async def test_a_newer_protocol_is_refused_with_a_clear_message(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    sup, _, server = await served(tmp_path, fleet_runtime_dir)
    reader, writer = await asyncio.open_unix_connection(str(server.path))
    writer.write(b'{"type":"hello","protocol":99,"client":"future"}\n')
    hello, bye = await reader.readline(), await reader.readline()
    assert b'"protocol":1' in hello and b"fleet protocol 99" in bye
    writer.close()
    with pytest.raises(wire.WireError, match="speaks fleet protocol 1, this tokenmaxx speaks 2"):
        wire.PROTOCOL = 2
        try:
            await FleetConnection.open(server.path, "tui:new")
        finally:
            wire.PROTOCOL = 1
    await sup.finish()
    await server.close("ended")


def test_the_peer_check_refuses_every_other_uid() -> None:
    assert wire.peer_allowed(1000, own_uid=1000)
    assert not wire.peer_allowed(0, own_uid=1000)
    assert not wire.peer_allowed(1001, own_uid=1000)
    left, right = socket.socketpair(socket.AF_UNIX)
    assert wire.peer_uid(left) == os.getuid()
    left.close(), right.close()


@pytest.mark.skipif(os.getuid() != 0, reason="switching to another uid needs root")
async def test_another_uid_cannot_attach(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    """A forked child that drops to uid 65534 (nobody) connects to the socket: it is refused before it is read."""
    sup, sink, server = await served(tmp_path, fleet_runtime_dir)
    os.chmod(fleet_runtime_dir, 0o711), os.chmod(fleet_runtime_dir / "fleets", 0o711), os.chmod(server.path, 0o666)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.setgid(65534), os.setuid(65534)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect(str(server.path))
        probe.sendall(wire.line(wire.ClientHello(client="intruder")) + wire.line(wire.CommandFrame(id=1, command=cmd.Kill(agent="a"))))
        os.write(write_end, probe.recv(4096))
        os._exit(0)
    os.close(write_end)
    answer = await asyncio.to_thread(os.read, read_end, 4096)
    await asyncio.to_thread(os.waitpid, child, 0)
    assert b"another user" in answer and b"session_id" not in answer
    assert not any(isinstance(e, ev.SupervisorAction) for e in sink.events)
    await sup.finish()
    await server.close("ended")


async def test_ps_finds_a_live_fleet_and_cleans_a_dead_ones_socket(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    sup, _, server = await served(tmp_path, fleet_runtime_dir)
    dead = wire.socket_path("dead1")
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(dead))
    left.close()  # bound, never listening: what a killed fleet leaves
    found = {f.session_id: f for f in await find_fleets(wire.fleet_dir(), clean=True)}
    assert found["s1"].hello is not None and found["s1"].hello.agents == {"streaming": 1}
    assert found["dead1"].dead and not dead.exists()
    await sup.finish()
    await server.close("ended")



class Gated(ScriptedProvider):
    """Its first reply says a word and waits for `gate`, then ends; every later reply ends at once."""

    def __init__(self) -> None:
        super().__init__(lambda request: reply("Done."))
        self.gate = asyncio.Event()

    async def stream(self, request):  # type: ignore[no-untyped-def, override]
        if not self.requests:
            self.requests.append(request)
            yield TextDelta("thinking ")
            await self.gate.wait()
            for step in reply("Done."):
                yield step  # type: ignore[misc]
            return
        async for step in super().stream(request):
            yield step


async def test_a_queued_reprompt_outlives_the_client_that_queued_it_and_every_client_sees_it(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    provider, sink = Gated(), MemorySink()
    sup = Supervisor(make_plan(tmp_path, ONE_AGENT), store=None, log=EventLog(sink, "s1"), providers={"sim": provider})
    server = FleetServer(sup, None, wire.socket_path("s1"), db_path=tmp_path / "s.db")
    await server.start()
    await sup.start()
    await until(lambda: sup.state.agents["a"].status == "streaming")
    one, two = await RemoteFleet.attach(server.path, "tui:1"), await RemoteFleet.attach(server.path, "tui:2")
    one.handle(cmd.QueueReprompt(agent="a", text="add a caption"))
    await until(lambda: two.state.agents["a"].queued_reprompt == "add a caption")
    await one.close()  # detached: the message stays with the fleet
    provider.gate.set()  # the reply ends: a safe point
    await until(lambda: sup.state.agents["a"].outcome == "done" and len(provider.requests) == 2)
    assert "add a caption" in provider.requests[1].messages[-1].text
    actions = [(e.action, e.by) for e in sink.events if isinstance(e, ev.SupervisorAction)]
    assert actions == [("queue_reprompt", "tui:1"), ("reprompt", "tui:1")]
    await until(lambda: two.state == sup.state and not two.state.agents["a"].queued_reprompt)
    await two.close()
    await sup.finish()
    await server.close("ended")


async def test_the_closing_line_of_an_attached_fleet_that_ended_is_the_in_process_one(tmp_path: Path, fleet_runtime_dir: Path) -> None:
    db = tmp_path / "s.db"
    async with await Store.open(db) as store:
        provider = ScriptedProvider(lambda request: reply("Done."))
        sup = Supervisor(make_plan(tmp_path, ONE_AGENT), store, EventLog(store, "s1"), providers={"sim": provider})
        server = FleetServer(sup, store, wire.socket_path("s1"), db_path=db)
        await server.start()
        await sup.start()
        client = await RemoteFleet.attach(server.path, "tui:1")
        await sup.wait()
        await sup.finish()
        await store.flush()
        await server.close("the fleet ended: done")
        await until(client.gone.is_set)
        lines: list[str] = []
        code = await _closing(client, lambda text, err=False: lines.append(text))
        await client.close()
        expected = await closing_line(store, "s1", sup.out_root, db)
    assert code == 0 and lines == [expected]
    assert expected.startswith("session s1  ·  outputs in ") and expected.endswith(f"replay: tokenmaxx replay s1 --db {db}")
