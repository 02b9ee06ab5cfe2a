"""Export: JSONL is lossless and importable, bad files name their line, Markdown reads as a transcript."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tokenmaxx.sessions import events as ev
from tokenmaxx.sessions.export import (
    OUTPUT_MAX_LINES,
    ImportFileError,
    read_jsonl,
    to_markdown,
    write_jsonl,
)
from tokenmaxx.sessions.state import reduce_all
from tokenmaxx.sessions.store import new_session_id
from tokenmaxx.sessions.store_api import StoreTarget, open_store
from tests.sessions.samples import every_kind


def a_session(session_id: str = "c0ffee000001") -> list[ev.Event]:
    return [
        e.model_copy(update={"session_id": session_id, "seq": i, "ts": 1_790_000_000.125 + i / 3})
        for i, e in enumerate(every_kind(), start=1)
    ]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_jsonl_round_trips_every_kind_losslessly(tmp_path: Path) -> None:
    events = a_session()
    path = tmp_path / "share.jsonl"
    with path.open("w", encoding="utf-8") as file:
        write_jsonl(events, file)
    assert {e.kind for e in events} == ev.KINDS
    assert len(path.read_text(encoding="utf-8").splitlines()) == len(events)
    assert read_jsonl(path) == events


async def test_export_then_import_into_another_store_gives_identical_events(
    store_target: StoreTarget, other_store_target: StoreTarget, tmp_path: Path
) -> None:
    async with await open_store(store_target) as mine:
        session_id = new_session_id()
        exported = [mine.append(session_id, event) for event in every_kind()]
        await mine.flush()
        with (tmp_path / "share.jsonl").open("w", encoding="utf-8") as file:
            write_jsonl(await mine.events(session_id), file)
    async with await open_store(other_store_target) as theirs:
        assert await theirs.import_events(read_jsonl(tmp_path / "share.jsonl")) == session_id
        assert await theirs.events(session_id) == exported
        assert (await theirs.session(session_id)).status == "failed"


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    events = a_session()[:2]
    path = write_lines(tmp_path / "share.jsonl", ["", ev.encode(events[0]), "   ", ev.encode(events[1]), ""])
    assert read_jsonl(path) == events


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        ('{"kind": "foo", "session_id": "s", "seq": 2, "ts": 1}', "unknown event kind 'foo'"),
        ('{"kind": "text", "agent": "a", ', "invalid JSON"),
        ('{"kind": "usage", "agent": "a", "provider": "p", "model": "m", "input_tokens": "lots"}', "input_tokens"),
        ('{"agent": "a", "text": "no kind"}', "kind"),
    ],
    ids=["unknown-kind", "invalid-json", "bad-field", "no-kind"],
)
def test_a_bad_line_is_reported_with_file_and_line_number(tmp_path: Path, bad_line: str, problem: str) -> None:
    good = [ev.encode(e) for e in a_session()[:2]]
    path = write_lines(tmp_path / "share.jsonl", [good[0], "", good[1], bad_line])
    with pytest.raises(ImportFileError) as error:
        read_jsonl(path)
    assert str(error.value).startswith(f"{path}:4: ")
    assert problem in str(error.value)
    assert error.value.line == 4


def test_a_missing_or_binary_file_is_reported_by_name(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="nowhere.jsonl"):
        read_jsonl(tmp_path / "nowhere.jsonl")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ImportFileError, match="binary.jsonl: not UTF-8"):
        read_jsonl(binary)


def test_markdown_has_a_title_a_summary_and_every_agent_action() -> None:
    markdown = to_markdown(a_session())
    assert markdown.startswith("# demo fleet\n")
    for expected in [
        "| `charts` | chart-builder | anthropic/claude-sonnet-4-6 | over_budget "
        "| 1,200 | 300 | 1,000 | 100 | 50 | $0.0125 |",
        "| **total, 1 agent** |  |  | failed |",
        "## Agent `charts`",
        "### Turn 1",
        "Reading the git log…",
        '```json\n{"cmd": ["git", "log"], "timeout": 30}\n```',
        "**Result** of `call_1`: failed in 0.25 s\n\n```\nfatal: not a git repository\n```",
        "**Approval requested** for `run_command`",
        "**Approved** `call_1` by watchdog",
        "**watchdog** reprompted the whole fleet: Use the other repo.",
        "**Provider error** (rate_limit, retrying in 2.5 s): 429 slow down",
        "**Flagged looping**: run_command repeated 4 times",
        "**Artifact** `out/chart.html` (2,048 bytes",
        "`out/chart.html` **rejected**: axis unlabelled",
        "**Finished: over_budget**",
        "plan `fleet.toml` rejected: line 3",
        "1 rejected",
        "session resumed by tokenmaxx 0.1.1: charts go on",
    ]:
        assert expected in markdown, expected


def test_markdown_joins_streamed_text_and_truncates_long_output() -> None:
    long_output = "\n".join(f"row {i}" for i in range(500))
    events = [
        ev.Text(agent="logs", text="Scanning "),
        ev.Text(agent="logs", text="the logs."),
        ev.ToolResult(agent="logs", call_id="c9", ok=True, output=long_output + "\n```\nfenced inside"),
        ev.UsageReported(agent="logs", provider="ollama", model="qwen", input_tokens=70, output_tokens=30),
    ]
    markdown = to_markdown([e.model_copy(update={"session_id": "s", "seq": i}) for i, e in enumerate(events, 1)])
    assert "Scanning the logs." in markdown
    assert f"row {OUTPUT_MAX_LINES - 1}\n" in markdown
    assert f"row {OUTPUT_MAX_LINES}\n" not in markdown
    assert "truncated: 502 lines" in markdown
    assert "$0.0000 + 100 tokens of unknown price" in markdown


def test_markdown_fences_outlast_backticks_in_the_output() -> None:
    event = ev.ToolResult(session_id="s", seq=1, agent="a", call_id="c", ok=True, output="```python\nx = 1\n```")
    assert "````\n```python\nx = 1\n```\n````" in to_markdown([event])


def test_write_jsonl_writes_one_line_per_event() -> None:
    buffer = io.StringIO()
    write_jsonl(a_session()[:3], buffer)
    assert [ev.decode(line) for line in buffer.getvalue().splitlines()] == a_session()[:3]


def test_markdown_names_the_artifacts_an_agent_was_given() -> None:
    events = [
        ev.AgentQueued(agent="deck", role="deck-builder", provider="sim", model="sim", after=["charts"], task="Build the deck."),
        ev.AgentStatusChanged(agent="deck", status="starting", reason="fresh start", iteration=1, inputs=["charts/loc.svg", "charts/loc.csv"]),
    ]
    stamped = [e.model_copy(update={"session_id": "s", "seq": i}) for i, e in enumerate(events, 1)]
    assert "> **Given** by the agents it depends on: `charts/loc.svg`, `charts/loc.csv`" in to_markdown(stamped)
    assert ev.decode(ev.encode(stamped[1])) == stamped[1]
    assert '"inputs"' not in ev.AgentStatusChanged(agent="a", status="starting").model_dump_json()



def test_markdown_counts_interventions_as_the_meter_does() -> None:
    """An approval counts once, and reviews and resumes are no interventions (the export said 5 where the screen said 3)."""
    events = [
        ev.AgentQueued(agent="a", role="r", provider="sim", model="sim", task="t"),
        ev.SupervisorAction(agent="a", action="reprompt", text="go on"),
        ev.SupervisorAction(agent="a", action="approve"),
        ev.ApprovalDecided(agent="a", call_id="c1", approved=True),
        ev.ApprovalDecided(agent="a", call_id="c2", approved=True, by="--yes"),
        ev.SupervisorAction(agent="a", action="accept"),
        ev.SupervisorAction(agent="a", action="resume", text="carry on", by="resume"),
    ]
    stamped = [e.model_copy(update={"session_id": "s", "seq": i}) for i, e in enumerate(events, 1)]
    assert reduce_all(stamped).interventions == 2
    assert "interventions: 2 ·" in to_markdown(stamped)


def test_markdown_says_who_did_what_to_which_agent() -> None:
    events = [
        ev.AgentQueued(agent="a", role="r", provider="sim", model="sim", task="t"),
        ev.SupervisorAction(agent="a", action="restart", by="watchdog"),
        ev.SupervisorAction(agent="a", action="reject"),
        ev.SupervisorAction(agent="a", action="resume", text="carry on", by="resume"),
    ]
    markdown = to_markdown([e.model_copy(update={"session_id": "s", "seq": i}) for i, e in enumerate(events, 1)])
    for line in ("**watchdog** restarted this agent\n", "**user** rejected a deliverable of this agent\n", "**tokenmaxx resume** resumed this agent: carry on"):
        assert f"> {line}" in markdown


def test_the_harness_price_is_shown_beside_ours_and_flagged_when_it_differs() -> None:
    def usage(cost: float, harness: float | None) -> ev.UsageReported:
        return ev.UsageReported(session_id="s", agent="cc", provider="p", model="m", input_tokens=10, output_tokens=5, cost_usd=cost, harness_cost_usd=harness)

    close = to_markdown([usage(0.01, None), usage(0.01, 0.02)])
    assert "the harness says $0.0200 for the turn" in close
    assert "$0.0200; the harness says $0.0200 |" in close
    apart = to_markdown([usage(0.01, 0.05)])
    assert "$0.0100; the harness says $0.0500 (**differs**) |" in apart
