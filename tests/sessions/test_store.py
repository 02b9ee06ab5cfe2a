"""The session store: ordered gap-free appends, roll-ups, reads, migrations, bad files and crashes."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import platformdirs
import pytest

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.schema import MIGRATIONS, SCHEMA_VERSION
from tokenmaxx.sessions.store import (
    AmbiguousSession,
    ImportRejected,
    NotADatabase,
    SchemaTooNew,
    SessionExists,
    SessionNotFound,
    Store,
    StoreError,
    default_db_path,
    new_session_id,
)
from tokenmaxx.sessions.store_api import SessionStore, is_url, open_store
from tests.sessions.samples import every_kind

REPO = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("store_writer.py")
PROCESS_TIMEOUT_S = 60


@pytest.fixture
async def store(store_target: Path | str) -> AsyncIterator[SessionStore]:
    async with await open_store(store_target) as opened:
        yield opened


def sqlite_only(target: object) -> None:
    if is_url(target):  # type: ignore[arg-type]
        pytest.skip("about the SQLite file itself")


def small_import_chunks(monkeypatch: pytest.MonkeyPatch, store: SessionStore, size: int) -> None:
    module = "sessions.pg_reads" if is_url(str(store.path)) else "sessions.store"
    monkeypatch.setattr(f"{module}.IMPORT_CHUNK", size)


def stamped(session_id: str, events: list[ev.Event], start_seq: int = 1) -> list[ev.Event]:
    return [e.model_copy(update={"session_id": session_id, "seq": start_seq + i}) for i, e in enumerate(events)]


def text(agent: str, words: str) -> ev.Text:
    return ev.Text(agent=agent, text=words)


def file_state(path: Path) -> dict[str, bytes]:
    """The bytes of a database file and any WAL or journal beside it."""
    files = [path, *path.parent.glob(path.name + "-*")]
    return {f.name: f.read_bytes() for f in files}


async def test_every_kind_round_trips_through_the_store(store: SessionStore) -> None:
    session_id = new_session_id()
    appended = [store.append(session_id, event) for event in every_kind()]
    await store.flush()
    assert {e.kind for e in appended} == ev.KINDS
    assert await store.events(session_id) == appended
    assert [e.seq for e in appended] == list(range(1, len(appended) + 1))


async def test_seq_is_gap_free_per_session_and_continues_after_reopening(store_target: Path | str) -> None:
    path = store_target
    first, second = new_session_id(), new_session_id()
    async with await open_store(path) as store:
        for i in range(5):
            store.append(first, text("a", f"first {i}"))
            store.append(second, text("b", f"second {i}"))
    async with await open_store(path) as store:
        resumed = store.append(first, text("a", "after reopening"))
        await store.flush()
        assert resumed.seq == 6
        assert [e.seq for e in await store.events(first)] == [1, 2, 3, 4, 5, 6]
        texts = [e.text for e in await store.events(second) if isinstance(e, ev.Text)]
        assert texts == [f"second {i}" for i in range(5)]
        assert await store.last_seq(first) == 6
    with pytest.raises(StoreError, match="closed"):
        store.append(first, text("a", "too late"))


async def test_the_writer_commits_on_its_own_and_another_connection_sees_it(store_target: Path | str) -> None:
    async with await open_store(store_target) as writer, await open_store(store_target) as reader:
        session_id = new_session_id()
        events = [writer.append(session_id, text("a", f"line {i}")) for i in range(3)]
        await asyncio.wait_for(writer.wait_committed(), timeout=10)
        assert await reader.events(session_id) == events


async def test_reads_filter_by_seq_range_and_agent_and_page_through(store: SessionStore) -> None:
    session_id = new_session_id()
    events = [store.append(session_id, text("ab"[i % 2], f"line {i}")) for i in range(50)]
    await store.flush()
    assert await store.events(session_id, from_seq=10, to_seq=14) == events[9:14]
    of_b = [e for e in events[39:] if isinstance(e, ev.Text) and e.agent == "b"]
    assert await store.events(session_id, agent="b", from_seq=40) == of_b
    paged = [e async for e in store.iter_events(session_id, from_seq=3, page_size=7)]
    assert paged == events[2:]


async def test_roll_ups_count_agents_tokens_cost_reviews_and_outcome(store: SessionStore) -> None:
    session_id = new_session_id()
    queued = dict(role="critic", provider="sim", model="sim-1")
    usage = dict(provider="sim", model="sim-1", cache_read_tokens=5, cache_write_tokens=2, reasoning_tokens=1)
    for event in [
        ev.SessionStarted(name="rolls", plan="p.toml", cwd="/w", version="1", ts=100.0),
        ev.AgentQueued(agent="a", **queued),
        ev.AgentQueued(agent="b", **queued),
        ev.AgentQueued(agent="a", **queued),
        ev.UsageReported(agent="a", input_tokens=100, output_tokens=10, cost_usd=0.25, **usage),
        ev.UsageReported(agent="b", input_tokens=40, output_tokens=4, cost_usd=None, **usage),
        ev.ArtifactReview(agent="a", path="x.html", verdict="rejected"),
        ev.ArtifactReview(agent="a", path="x.html", verdict="accepted"),
        ev.ArtifactReview(agent="b", path="y.md", verdict="rejected"),
        ev.SessionEnded(status="done", ts=130.0),
    ]:
        store.append(session_id, event)
    await store.flush()
    summary = await store.session(session_id)
    assert (summary.name, summary.plan, summary.cwd, summary.status) == ("rolls", "p.toml", "/w", "done")
    assert (summary.started_at, summary.ended_at, summary.duration_s) == (100.0, 130.0, 30.0)
    assert (summary.agents, summary.accepted, summary.rejected, summary.last_seq) == (2, 1, 1, 10)
    assert (summary.input_tokens, summary.output_tokens) == (140, 14)
    assert (summary.cache_read_tokens, summary.cache_write_tokens, summary.reasoning_tokens) == (10, 4, 2)
    assert (summary.cost_usd, summary.unknown_price_tokens) == (0.25, 44)


async def test_roll_ups_add_up_across_batches(store: SessionStore) -> None:
    session_id = new_session_id()
    for _ in range(3):
        usage = ev.UsageReported(agent="a", provider="p", model="m", input_tokens=7, cost_usd=0.5)
        store.append(session_id, usage)
        await store.flush()
    summary = await store.session(session_id)
    assert (summary.input_tokens, summary.cost_usd, summary.last_seq, summary.status) == (21, 1.5, 3, "running")


async def test_sessions_are_listed_newest_first(store: SessionStore) -> None:
    older, newer = new_session_id(), new_session_id()
    store.append(older, ev.SessionStarted(name="older", cwd="/", version="1", ts=10.0))
    store.append(newer, ev.SessionStarted(name="newer", cwd="/", version="1", ts=20.0))
    await store.flush()
    assert [s.name for s in await store.sessions()] == ["newer", "older"]


async def test_prefixes_resolve_like_git(store: SessionStore) -> None:
    for session_id in ("aaaa00000001", "aaaa00000002", "bbbb00000001"):
        await store.import_events(stamped(session_id, [ev.SessionStarted(name=session_id, cwd="/", version="1")]))
    assert await store.resolve("b") == "bbbb00000001"
    assert await store.resolve("aaaa00000002") == "aaaa00000002"
    with pytest.raises(AmbiguousSession) as ambiguous:
        await store.resolve("aaaa")
    assert ambiguous.value.candidates == ["aaaa00000001", "aaaa00000002"]
    assert "aaaa00000001, aaaa00000002" in str(ambiguous.value)
    for missing in ("c", "", "aaaa000000019"):
        with pytest.raises(SessionNotFound):
            await store.resolve(missing)


async def test_an_unknown_session_is_a_typed_error(store: SessionStore) -> None:
    with pytest.raises(SessionNotFound, match="'nope'"):
        await store.session("nope")
    with pytest.raises(SessionNotFound):
        await store.events("nope")


async def test_snapshots_seek_to_the_latest_at_or_before_a_seq(store: SessionStore) -> None:
    session_id = new_session_id()
    for i in range(1, 31):
        store.append(session_id, text("a", str(i)))
        if i % 10 == 0:
            store.append_snapshot(session_id, i, f'{{"at": {i}}}')
    await store.flush()
    assert await store.snapshot_before(session_id, 9) is None
    assert await store.snapshot_before(session_id, 15) == (10, '{"at": 10}')
    assert await store.snapshot_before(session_id, 30) == (30, '{"at": 30}')
    with pytest.raises(ValueError, match="beyond"):
        store.append_snapshot(session_id, 31, "{}")


async def test_import_keeps_ids_and_seqs_and_refuses_duplicates(store: SessionStore) -> None:
    events = stamped("feedc0ffee00", every_kind())
    assert await store.import_events(events) == "feedc0ffee00"
    assert await store.events("feedc0ffee00") == events
    assert store.append("feedc0ffee00", text("a", "more")).seq == len(events) + 1
    with pytest.raises(SessionExists, match="feedc0ffee00"):
        await store.import_events(events)
    with pytest.raises(ImportRejected, match="seqs 1, 2, 3"):
        await store.import_events(stamped("0123456789ab", every_kind(), start_seq=2))
    with pytest.raises(ImportRejected):
        await store.import_events([])


async def test_import_streams_in_chunks_and_a_bad_late_chunk_leaves_nothing(store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    small_import_chunks(monkeypatch, store, 4)
    events = stamped("c4c4c4c4c4c4", every_kind())
    pulled: list[int] = []

    def lazily() -> Iterator[ev.Event]:
        for event in events:
            pulled.append(event.seq)
            yield event

    assert await store.import_events(lazily()) == "c4c4c4c4c4c4"
    assert await store.events("c4c4c4c4c4c4") == events and pulled == [e.seq for e in events]
    summary = await store.session("c4c4c4c4c4c4")
    assert summary.last_seq == len(events) and summary.agents >= 1
    broken = stamped("d5d5d5d5d5d5", every_kind())
    broken[9] = broken[9].model_copy(update={"seq": 99})
    with pytest.raises(ImportRejected, match="event 10 is d5d5d5d5d5d5#99"):
        await store.import_events(broken)
    assert [s.id for s in await store.sessions()].count("d5d5d5d5d5d5") == 0
    with pytest.raises(SessionNotFound):
        await store.events("d5d5d5d5d5d5")


async def test_other_writers_are_not_held_up_while_an_import_is_read(store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    sqlite_only(str(store.path) if not isinstance(store.path, Path) else store.path)
    monkeypatch.setattr("tokenmaxx.sessions.store.IMPORT_CHUNK", 4)
    events = stamped("e6e6e6e6e6e6", every_kind())
    wrote: list[str] = []

    def with_a_writer_meanwhile() -> Iterator[ev.Event]:
        for event in events:
            if event.seq == 6:  # a chunk is staged; another process writes now, without waiting
                with sqlite3.connect(store.path, timeout=0, isolation_level=None) as other:
                    other.execute("BEGIN IMMEDIATE")
                    other.execute("CREATE TABLE IF NOT EXISTS scratch (x)")
                    other.execute("COMMIT")
                wrote.append("other writer")
            yield event

    assert await store.import_events(with_a_writer_meanwhile()) == "e6e6e6e6e6e6"
    assert wrote == ["other writer"] and await store.events("e6e6e6e6e6e6") == events


async def test_an_imported_session_without_an_end_reads_as_interrupted(store: SessionStore) -> None:
    await store.import_events(stamped("abcabcabcabc", every_kind()[:-1]))
    assert (await store.session("abcabcabcabc")).status == "interrupted"


async def test_a_resumed_session_runs_again_under_its_new_writer(store: SessionStore) -> None:
    await store.import_events(stamped("abcabcabcabc", every_kind()))
    assert (await store.session("abcabcabcabc")).status == "failed"
    store.append("abcabcabcabc", ev.SessionResumed(version="0.2", agents=["charts"]))
    await store.flush()
    summary = await store.session("abcabcabcabc")
    assert (summary.status, summary.ended_at, summary.last_seq) == ("running", None, len(every_kind()) + 1)


async def test_a_failed_write_surfaces_as_store_error(tmp_path: Path) -> None:
    path = tmp_path / "sessions.db"
    async with await Store.open(path):
        pass
    with sqlite3.connect(path) as raw:
        raw.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON events WHEN NEW.seq = 3 "
            "BEGIN SELECT RAISE(ABORT, 'simulated disk full'); END"
        )
    raw.close()
    store = await Store.open(path)
    session_id = new_session_id()
    for i in range(5):
        store.append(session_id, text("a", str(i)))
    with pytest.raises(StoreError, match="simulated disk full"):
        await asyncio.wait_for(store.flush(), timeout=20)
    with pytest.raises(StoreError, match=str(path)):
        store.append(session_id, text("a", "later"))
    with pytest.raises(StoreError):
        await store.close()


async def test_a_migration_from_schema_1_keeps_every_event(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    events = stamped("0ld5e5510n00", every_kind())
    with sqlite3.connect(path) as raw:
        for statement in MIGRATIONS[0].statements:
            raw.execute(statement)
        raw.execute(
            "INSERT INTO sessions (id, name, cwd, version, started_at, status) VALUES (?, ?, ?, ?, ?, ?)",
            ("0ld5e5510n00", "demo fleet", "/work/demo", "0.0.9", events[0].ts, "failed"),
        )
        raw.executemany(
            "INSERT INTO events (session_id, seq, ts, kind, agent, payload) VALUES (?, ?, ?, ?, ?, ?)",
            [(e.session_id, e.seq, e.ts, e.kind, getattr(e, "agent", None), ev.payload_json(e)) for e in events],
        )
        raw.execute("PRAGMA user_version = 1")
    raw.close()
    async with await Store.open(path) as store:
        assert await store.events("0ld5e5510n00") == events
        summary = await store.session("0ld5e5510n00")
        assert (summary.agents, summary.input_tokens, summary.cost_usd, summary.rejected) == (1, 1200, 0.0125, 1)
        assert (summary.status, summary.last_seq) == ("failed", len(events))
        assert store.append("0ld5e5510n00", text("charts", "resumed")).seq == len(events) + 1
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()


async def test_a_newer_schema_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE future (x)")
        raw.execute("PRAGMA user_version = 7")
    raw.close()
    before = file_state(path)
    with pytest.raises(SchemaTooNew) as refused:
        await Store.open(path)
    assert str(refused.value) == (
        f"{path} was written by a newer tokenmaxx (schema 7, this version reads up to {SCHEMA_VERSION}); "
        "upgrade tokenmaxx"
    )
    assert file_state(path) == before


@pytest.mark.parametrize(
    "content",
    [b"not a database, just notes\n" * 40, b"SQLite format 3\x00" + bytes(range(256)) * 16],
    ids=["text", "bad-header"],
)
async def test_a_file_that_is_not_a_database_is_refused_and_left_unchanged(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    with pytest.raises(NotADatabase, match=str(path)):
        await Store.open(path)
    assert file_state(path) == {"notes.db": content}


async def test_another_programs_database_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE contacts (name)")
    raw.close()
    before = file_state(path)
    with pytest.raises(NotADatabase, match="another program"):
        await Store.open(path)
    assert file_state(path) == before


def test_the_default_path_follows_the_env_var_else_platformdirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENMAXX_DB", "/tmp/elsewhere.db")
    assert default_db_path() == Path("/tmp/elsewhere.db")
    monkeypatch.delenv("TOKENMAXX_DB")
    assert default_db_path() == platformdirs.user_data_path("tokenmaxx") / "sessions.db"


def test_session_ids_are_twelve_lowercase_hex_characters() -> None:
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 12 and set(i) <= set("0123456789abcdef") for i in ids)


async def start_writer(path: Path | str) -> tuple[asyncio.subprocess.Process, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(WRITER), str(path), cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    first = await asyncio.wait_for(process.stdout.readline(), PROCESS_TIMEOUT_S)
    assert first.startswith(b"session "), first
    return process, first.split()[1].decode()


async def durable_seq_at_least(process: asyncio.subprocess.Process, wanted: int) -> int:
    assert process.stdout is not None
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), PROCESS_TIMEOUT_S)
        assert line, "the writer process ended early"
        if int(line) >= wanted:
            return int(line)


async def test_a_second_process_reads_committed_events_while_the_first_writes(store_target: Path | str) -> None:
    path = store_target
    process, session_id = await start_writer(path)
    try:
        async with await open_store(path) as reader:
            for wanted in (300, 900):
                durable = await durable_seq_at_least(process, wanted)
                events = await reader.events(session_id)
                assert len(events) >= durable
                assert [e.seq for e in events] == list(range(1, len(events) + 1))
                assert process.returncode is None
            assert (await reader.session(session_id)).status == "running"
    finally:
        process.kill()
        await process.wait()


async def test_a_writer_killed_mid_stream_keeps_every_flushed_event(store_target: Path | str) -> None:
    path = store_target
    process, session_id = await start_writer(path)
    await durable_seq_at_least(process, 1200)
    process.send_signal(signal.SIGKILL)
    assert process.stdout is not None
    printed = [int(line) for line in (await process.stdout.read()).split()]
    await process.wait()
    last_durable = max(printed, default=1200)
    if not is_url(path):
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        raw.close()
    async with await open_store(path) as store:
        seqs = [event.seq for event in await store.events(session_id)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert len(seqs) >= last_durable
        assert (await store.session(session_id)).status == "interrupted"
