"""The history commands as a user types them: export/import round trips, the transcript's shape, stats, filters, errors."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.export import read_jsonl
from tokenmaxx.sessions.store_api import StoreTarget, open_store
from tokenmaxx.tui.cli import main
from tokenmaxx.tui.history_cli import HistoryError, parse_since, replay_headless

DEMO = Path(__file__).parents[1] / "sessions" / "data" / "demo_session.jsonl"
DEMO_ID = read_jsonl(DEMO)[0].session_id


def tokenmaxx(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)


def stored_events(db: StoreTarget, session_id: str) -> list[ev.Event]:
    async def read() -> list[ev.Event]:
        async with await open_store(db) as store:
            return await store.events(session_id)

    return asyncio.run(read())


def one_line_error(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


def with_demo(target: StoreTarget) -> StoreTarget:
    """The target after `tokenmaxx import` of the demo session."""
    imported = tokenmaxx("import", DEMO, "--db", target)
    assert imported.exit_code == 0 and imported.stdout.strip() == DEMO_ID
    return target


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return with_demo(tmp_path / "mine.db")  # type: ignore[return-value]


def test_export_then_import_reproduces_the_session_exactly(
    store_target: StoreTarget, other_store_target: StoreTarget, tmp_path: Path
) -> None:
    db, theirs = with_demo(store_target), other_store_target
    shared = tmp_path / "shared.jsonl"
    assert tokenmaxx("export", DEMO_ID[:5], "--format", "jsonl", "-o", shared, "--db", db).exit_code == 0
    assert shared.read_text(encoding="utf-8") == DEMO.read_text(encoding="utf-8")
    to_stdout = tokenmaxx("export", DEMO_ID, "--db", db)
    assert to_stdout.exit_code == 0 and to_stdout.stdout == shared.read_text(encoding="utf-8")
    assert tokenmaxx("import", shared, "--db", theirs).stdout.strip() == DEMO_ID
    assert stored_events(theirs, DEMO_ID) == stored_events(db, DEMO_ID) == read_jsonl(DEMO)
    listed = [json.loads(tokenmaxx("sessions", "--json", "--db", path).stdout)[0] for path in (db, theirs)]
    assert listed[0] == listed[1] and listed[0]["status"] == "done"


def test_importing_a_session_twice_is_refused(store_target: StoreTarget) -> None:
    db = with_demo(store_target)
    message = one_line_error(tokenmaxx("import", DEMO, "--db", db))
    assert message == f"tokenmaxx: {DEMO}: {db} already holds session {DEMO_ID}"


def test_an_unknown_event_kind_names_the_file_and_line(tmp_path: Path) -> None:
    lines = DEMO.read_text(encoding="utf-8").splitlines()[:4]
    lines[2] = lines[2].replace('"kind":"agent_queued"', '"kind":"agent_teleported"')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    message = one_line_error(tokenmaxx("import", bad, "--db", tmp_path / "s.db"))
    assert message == f"tokenmaxx: {bad}:3: unknown event kind 'agent_teleported'"
    missing = one_line_error(tokenmaxx("import", tmp_path / "nope.jsonl", "--db", tmp_path / "s.db"))
    assert missing.startswith(f"tokenmaxx: {tmp_path / 'nope.jsonl'}: ") and "No such file" in missing


def test_unknown_and_ambiguous_ids_and_missing_databases_are_one_line(db: Path, tmp_path: Path) -> None:
    assert one_line_error(tokenmaxx("export", "fff", "--db", db)) == f"tokenmaxx: no session 'fff' in {db}"
    other = read_jsonl(DEMO)[:3]
    twin = DEMO_ID[:2] + "0" * 10
    twin_file = tmp_path / "twin.jsonl"
    twin_file.write_text("".join(ev.encode(e.model_copy(update={"session_id": twin})) + "\n" for e in other))
    assert tokenmaxx("import", twin_file, "--db", db).exit_code == 0
    assert "matches several sessions" in one_line_error(tokenmaxx("export", DEMO_ID[:2], "--db", db))
    nowhere = tmp_path / "none.db"
    assert one_line_error(tokenmaxx("export", "abc", "--db", nowhere)).startswith(f"tokenmaxx: no sessions yet: no database at {nowhere}")
    assert not nowhere.exists()
    unwritable = one_line_error(tokenmaxx("export", DEMO_ID, "-o", tmp_path / "no" / "such" / "dir.md", "--db", db))
    assert unwritable.startswith(f"tokenmaxx: cannot write {tmp_path / 'no' / 'such' / 'dir.md'}")


def read_markdown(markdown: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The headings outside fences and the (language, body) of every fenced block; fails on a fence that never closes."""
    headings: list[str] = []
    blocks: list[tuple[str, str]] = []
    fence, language, body = None, "", []
    for line in markdown.splitlines():
        if fence is None and (opening := re.match(r"^(`{3,})(\w*)$", line)):
            fence, language, body = opening.group(1), opening.group(2), []
        elif fence is not None and line == fence:
            blocks.append((language, "\n".join(body)))
            fence = None
        elif fence is not None:
            body.append(line)
        elif line.startswith("#"):
            headings.append(line)
    assert fence is None, "a fenced block never closes"
    return headings, blocks


def test_the_markdown_transcript_has_a_summary_a_section_per_agent_and_fenced_tool_calls(db: Path) -> None:
    result = tokenmaxx("export", DEMO_ID, "--format", "md", "--db", db)
    markdown = result.stdout
    assert result.exit_code == 0 and markdown.startswith("# demo\n")
    headings, blocks = read_markdown(markdown)
    sections = [h[3:] for h in headings if re.match(r"^## ", h)]
    assert sections == ["Summary", "Fleet", *(f"Agent `{a}`" for a in ("charts", "logs", "factcheck", "deck", "critique"))]
    assert [h for h in headings if re.match(r"^#{1,3} ", h)][0] == "# demo"  # agents' own headings sit below turns
    assert sum(1 for h in headings if h.startswith("# ")) == 1
    summary = markdown.split("## Summary\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert summary[0].startswith("| agent | role | model | outcome | input | output |") and len(summary) == 2 + 5 + 1
    assert summary[-1].startswith("| **total, 5 agents** |") and "| 43,533 | 8,518 |" in summary[-1] and "$0.2037" in summary[-1]
    events = read_jsonl(DEMO)
    calls = [e for e in events if isinstance(e, ev.ToolCall)]
    assert markdown.count("**Tool call**") == len(calls) == 21
    commands = [body for language, body in blocks if language == "sh"]
    long_commands = [c.args["command"] for c in calls if "\n" in c.args.get("command", "").strip()]
    assert long_commands and commands == [command.rstrip("\n") for command in long_commands]  # as typed, not JSON-escaped
    assert sum(1 for language, _ in blocks if language == "") >= sum(1 for e in events if isinstance(e, ev.ToolResult))
    for agent in ("charts", "critique"):
        section = markdown.split(f"## Agent `{agent}`", 1)[1].split("\n## Agent `", 1)[0]
        assert "### Turn 1" in section and "**Finished: done**" in section


def test_stats_answer_what_the_tokens_bought(db: Path) -> None:
    text = tokenmaxx("stats", "--db", db)
    assert text.exit_code == 0
    assert text.stdout.startswith("What did these tokens buy? 1 session, 5 agents")
    since = tokenmaxx("stats", "--since", "2000-01-01", "--db", db).stdout
    assert since.startswith("What did these tokens buy since 2000-01-01 00:00? 1 session, 5 agents")
    for table in ("by role", "by model", "by plan", "by day"):
        assert re.search(rf"^{table} +tokens in/out +cache hit +cost +accepted/rejected +\$/accepted", text.stdout, flags=re.M)
    assert re.search(r"^chart-builder +9,321/1,403 +72% +\$0\.0328 \(sim\)", text.stdout, flags=re.M)
    data = json.loads(tokenmaxx("stats", "--json", "--db", db).stdout)
    assert data["total"]["tokens"]["input"] == 43_533 and data["total"]["interventions"] == {"user": 0, "watchdog": 2}
    assert [g["key"] for g in data["by_plan"]] == ["demo"]
    future = json.loads(tokenmaxx("stats", "--json", "--since", "2999-01-01", "--db", db).stdout)
    assert future["total"]["sessions"] == 0 and future["by_role"] == []
    assert "--since 'last tuesday'" in one_line_error(tokenmaxx("stats", "--since", "last tuesday", "--db", db))


def test_sessions_filter_by_status_and_start_and_sort(db: Path, tmp_path: Path) -> None:
    failed = [e.model_copy(update={"session_id": "0badf00d0001"}) for e in read_jsonl(DEMO)[:10]]
    failed.append(ev.SessionEnded(session_id="0badf00d0001", seq=11, ts=failed[-1].ts + 1, status="failed"))
    failing = tmp_path / "failed.jsonl"
    failing.write_text("".join(ev.encode(e) + "\n" for e in failed), encoding="utf-8")
    assert tokenmaxx("import", failing, "--db", db).exit_code == 0

    def ids(*options: str) -> list[str]:
        return [s["id"] for s in json.loads(tokenmaxx("sessions", "--json", *options, "--db", db).stdout)]

    assert ids("--status", "failed") == ["0badf00d0001"]
    assert ids("--status", "done") == [DEMO_ID]
    assert ids("--sort", "tokens") == [DEMO_ID, "0badf00d0001"]
    assert set(ids("--since", "2000-01-01")) == {DEMO_ID, "0badf00d0001"} and ids("--since", "2999-01-01") == []
    assert tokenmaxx("sessions", "--since", "2999-01-01", "--db", db).stdout.strip() == "no sessions match"
    assert tokenmaxx("sessions", "--status", "lost", "--db", db).exit_code == 2


def test_since_reads_dates_and_spans() -> None:
    now = 1_790_000_000.0
    assert parse_since("7d", now) == now - 7 * 86_400
    assert parse_since("12h", now) == now - 12 * 3600 and parse_since("2W", now) == now - 14 * 86_400
    assert parse_since("2026-03-01") == datetime(2026, 3, 1).timestamp()
    with pytest.raises(HistoryError, match="give a date like"):
        parse_since("yesterday")


def test_a_headless_replay_prints_the_fleet_at_an_event(store_target: StoreTarget) -> None:
    lines: list[str] = []
    asyncio.run(replay_headless(with_demo(store_target), DEMO_ID[:4], 101, lines.append))
    assert lines[0] == f"session {DEMO_ID} (demo) at event 101 of 176, status running"
    marks = [line for line in lines[1:] if "#" in line]
    assert [line.split()[2] for line in marks][:2] == ["flag", "intervention"]
    assert all(int(line.split("#")[1].split()[0]) <= 101 for line in marks)
    assert "factcheck" in lines[-1] and "total" in lines[-1]


def test_an_agents_own_headings_and_open_fences_cannot_break_the_transcript() -> None:
    from tokenmaxx.sessions.export import to_markdown

    said = [
        ev.Text(agent="a", text="# Plan\n\n## Steps\n```python\nx = 1\n# not a heading\n"),
        ev.ToolCall(agent="a", call_id="c1", tool="read_file", args={"path": "x.py"}),
    ]
    markdown = to_markdown([e.model_copy(update={"session_id": "s", "seq": i}) for i, e in enumerate(said, 1)])
    headings, blocks = read_markdown(markdown)
    assert headings == ["# Session s", "## Summary", "## Agent `a`", "#### Plan", "##### Steps"]
    assert blocks[0] == ("python", "x = 1\n# not a heading") and blocks[1] == ("json", '{"path": "x.py"}')


def test_db_before_the_command_works_as_after_it(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README says every command takes --db, the bare `tokenmaxx` (the sessions browser) included."""
    monkeypatch.delenv("TOKENMAXX_DB", raising=False)
    assert DEMO_ID in tokenmaxx("--db", db, "sessions").stdout
    opened: list[Path] = []

    async def browse(path: Path) -> int:
        opened.append(path)
        return 0

    monkeypatch.setattr("tokenmaxx.tui.runner.browse_tui", browse)
    monkeypatch.setattr("tokenmaxx.tui.cli.has_terminal", lambda: True)
    assert tokenmaxx("--db", db).exit_code == 0 and opened == [db.resolve()]
