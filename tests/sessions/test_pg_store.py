"""The PostgreSQL store as a team shares it: many writers, a server that restarts, sync, bad URLs, no leaked password."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.faults import StorageFault
from tokenmaxx.sessions.store import Store, new_session_id
from tokenmaxx.sessions.store_api import open_store
from tests.sessions.samples import every_kind
from tokenmaxx.tui.cli import main

TIMEOUT_S = 60


def stamped(session_id: str, events: list[ev.Event]) -> list[ev.Event]:
    return [e.model_copy(update={"session_id": session_id, "seq": 1 + i}) for i, e in enumerate(events)]


async def test_four_fleets_writing_one_database_at_once_stay_contiguous(pg_cluster: object) -> None:
    url = pg_cluster.fresh_url()  # type: ignore[attr-defined]
    stores = [await open_store(url) for _ in range(4)]
    sessions = [new_session_id() for _ in stores]

    async def fleet(store: object, session_id: str) -> None:
        store.append(session_id, ev.SessionStarted(name=session_id, cwd="/", version="t"))  # type: ignore[attr-defined]
        for i in range(1500):
            store.append(session_id, ev.Text(agent=f"a{i % 3}", text=f"line {i}"))  # type: ignore[attr-defined]
            if i % 100 == 0:
                await asyncio.sleep(0)
        await store.flush()  # type: ignore[attr-defined]

    await asyncio.wait_for(asyncio.gather(*(fleet(s, i) for s, i in zip(stores, sessions))), TIMEOUT_S)
    reader = stores[0]
    for session_id in sessions:
        seqs = [e.seq for e in await reader.events(session_id)]
        assert seqs == list(range(1, 1502))
        summary = await reader.session(session_id)
        assert (summary.last_seq, summary.status, summary.name) == (1501, "running", session_id)
    with pytest.raises(Exception, match="still running"):
        stores[1].append(sessions[0], ev.Text(agent="x", text="a second writer"))
    for store in stores:
        await store.close()
    assert {s.status for s in await _summaries(url)} == {"interrupted"}


async def _summaries(url: str) -> list[object]:
    async with await open_store(url) as store:
        return await store.sessions()  # type: ignore[return-value]


async def test_a_server_restarted_mid_run_loses_nothing(pg_cluster: object) -> None:
    url = pg_cluster.fresh_url()  # type: ignore[attr-defined]
    session_id = new_session_id()
    async with await open_store(url) as store:
        appended = [store.append(session_id, ev.Text(agent="a", text=f"before {i}")) for i in range(200)]
        await store.flush()
        await asyncio.to_thread(pg_cluster.stop)  # type: ignore[attr-defined]
        try:
            appended += [store.append(session_id, ev.Text(agent="a", text=f"during {i}")) for i in range(300)]
            await asyncio.sleep(0.3)
            assert not store.has_failed
        finally:
            await asyncio.to_thread(pg_cluster.start)  # type: ignore[attr-defined]
        await asyncio.wait_for(store.flush(), TIMEOUT_S)
        assert await store.events(session_id) == appended
        assert (await store.session(session_id)).status == "running"


async def test_a_full_buffer_stops_the_fleet_with_the_reason(pg_cluster: object) -> None:
    url = pg_cluster.fresh_url()  # type: ignore[attr-defined]
    store = await open_store(url)
    store.buffer_events = 50  # type: ignore[attr-defined]
    store.append("b0b0b0b0b0b0", ev.Text(agent="a", text="first"))
    await store.flush()
    await asyncio.to_thread(pg_cluster.stop)  # type: ignore[attr-defined]
    try:
        for i in range(80):
            store.append("b0b0b0b0b0b0", ev.Text(agent="a", text=f"{i}"))
        fault = await asyncio.wait_for(store.failed(), TIMEOUT_S)
    finally:
        await asyncio.to_thread(pg_cluster.start)  # type: ignore[attr-defined]
    assert "went away" in str(fault) and "more than the 50" in str(fault)
    with pytest.raises(StorageFault, match="went away"):
        await store.close()


def test_sync_twice_copies_each_session_once_and_completes_a_partial_one(pg_cluster: object, tmp_path: Path) -> None:
    url = pg_cluster.fresh_url()  # type: ignore[attr-defined]
    local = tmp_path / "laptop.db"
    events = stamped("5e5e5e5e5e5e", every_kind())

    async def record(upto: int) -> None:
        async with await Store.open(local) as store:
            if upto == 5:
                await store.import_events(stamped("1a1a1a1a1a1a", every_kind()))
                for event in events[:upto]:
                    store.append("5e5e5e5e5e5e", event)
            else:
                for event in events[5:]:
                    store.append("5e5e5e5e5e5e", event)

    asyncio.run(record(5))
    runner = CliRunner()
    first = runner.invoke(main, ["sync", "--db", str(local), "--to", url])
    assert first.exit_code == 0, first.output
    assert "2 copied" in first.output
    asyncio.run(record(len(events)))
    second = runner.invoke(main, ["sync", "--db", str(local), "--to", url])
    third = runner.invoke(main, ["sync", "--db", str(local), "--to", url])
    assert "1 completed, 1 already there" in second.output, second.output
    assert "0 copied, 0 completed, 2 already there" in third.output, third.output
    counts = pg_cluster.sql(  # type: ignore[attr-defined]
        f"SELECT session_id, count(*), max(seq) FROM {url.rsplit('%3D', 1)[1]}.events GROUP BY 1 ORDER BY 1"
    )
    assert counts.splitlines() == [f"1a1a1a1a1a1a|{len(events)}|{len(events)}", f"5e5e5e5e5e5e|{len(events)}|{len(events)}"]
    listed = runner.invoke(main, ["sessions", "--db", url, "--json"])
    assert listed.exit_code == 0 and "5e5e5e5e5e5e" in listed.output


@pytest.mark.parametrize(
    ("how", "expected"),
    [("password", "password authentication failed"), ("database", 'database "nowhere" does not exist'), ("port", "refused")],
)
def test_a_wrong_url_password_or_database_is_one_clear_line_and_exit_2(pg_cluster: object, how: str, expected: str, tmp_path: Path) -> None:
    secret = "s3cret-never-shown"
    local = tmp_path / "laptop.db"
    asyncio.run(_one_session(local))
    url = {
        "password": pg_cluster.tcp_url(password=secret),  # type: ignore[attr-defined]
        "database": pg_cluster.tcp_url(database="nowhere"),  # type: ignore[attr-defined]
        "port": f"postgresql://team:{secret}@127.0.0.1:1/x",
    }[how]
    for command in (["sessions"], ["stats"], ["replay", "abc", "--headless"], ["sync", "--to", url]):
        args = [*command, "--db", url] if command[0] != "sync" else [*command, "--db", str(local)]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, (command, result.output)
        assert expected in result.output and "Traceback" not in result.output
        assert secret not in result.output and "correct-horse" not in result.output


async def _one_session(path: Path) -> None:
    async with await Store.open(path) as store:
        await store.import_events(stamped("1a1a1a1a1a1a", every_kind()))


def test_a_team_login_records_its_user_and_host_and_the_filters_find_them(pg_cluster: object, tmp_path: Path) -> None:
    url = pg_cluster.tcp_url()  # type: ignore[attr-defined]
    pg_cluster.sql("DROP SCHEMA IF EXISTS team CASCADE; CREATE SCHEMA team AUTHORIZATION team")  # type: ignore[attr-defined]
    url += "?options=-csearch_path%3Dteam"

    async def record() -> None:
        async with await open_store(url) as store:
            for event in every_kind():
                store.append("7e7e7e7e7e7e", event)

    asyncio.run(record())
    config = tmp_path / "config"
    config.mkdir()
    (config / "config.toml").write_text('[teams]\nplatform = ["someone-else"]\nme = ["' + _user() + '"]\n')
    runner = CliRunner(env={"TOKENMAXX_CONFIG_DIR": str(config)})
    mine = runner.invoke(main, ["sessions", "--db", url, "--team", "me"])
    theirs = runner.invoke(main, ["sessions", "--db", url, "--team", "platform"])
    by_user = runner.invoke(main, ["stats", "--db", url, "--by", "user", "--json"])
    assert "7e7e7e7e7e7e" in mine.output and "7e7e7e7e7e7e" not in theirs.output
    assert f'"key": "{_user()}"' in by_user.output
    assert "correct-horse" not in mine.output + by_user.output


def _user() -> str:
    from tokenmaxx.sessions.schema import USER

    return USER
