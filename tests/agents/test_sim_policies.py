"""The sim's role policies driven to the end with the real tools: the files they write and what they say."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tokenmaxx.agents.providers.base import Message, ModelRequest, TextPart, ToolCallPart, ToolResultPart
from tokenmaxx.agents.providers.sim import SimProvider
from tokenmaxx.agents.sim import Call, Context, context_from
from tokenmaxx.agents.sim.critic import deck_stats
from tokenmaxx.agents.sim.deck import Inputs, deck_html
from tokenmaxx.agents.sim.scripts.failures import tool_reason
from tokenmaxx.agents.sim.scripts.svgplot import Series, line_chart
from tokenmaxx.sessions import events as ev
from tokenmaxx.agents.plan_models import AgentSpec
from tests.agents.sim_driver import EXPECTED_LOC, drive, drive_spec, failure_db, git, history_repo, recorded_history

SVG = "{http://www.w3.org/2000/svg}"
FAST = 1000.0
BASE_TS = 1_767_225_600.0  # 2026-01-01 00:00 UTC
LOGS = AgentSpec(name="logs", role="log-analyst", task="Failures.", history=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return history_repo(tmp_path / "repo")


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out" / "session"


def sample_failures(spread_s: float = 3600.0) -> list[ev.Event]:
    late = BASE_TS + spread_s
    return [
        ev.ProviderError(agent="a", error_kind="rate_limit", message="slow down", ts=BASE_TS + 60),
        ev.ProviderError(agent="b", error_kind="rate_limit", message="slow down", ts=BASE_TS + 120),
        ev.ToolResult(agent="a", call_id="c1", ok=False, output="refused: path '../x' is outside the project", ts=BASE_TS + 200),
        ev.ToolResult(agent="a", call_id="c2", ok=True, output="fine", ts=BASE_TS + 210),
        ev.ToolResult(agent="b", call_id="c3", ok=False, output="boom\n[exit code 2]", ts=late),
        ev.AgentFlagged(agent="b", flag="looping", ts=late + 1),
        ev.AgentFinished(agent="b", outcome="killed", ts=late + 2),
        ev.AgentFinished(agent="a", outcome="done", ts=late + 3),
        ev.Text(agent="a", text="not a failure", ts=late + 4),
    ]


def circles(svg_text: str) -> list[ElementTree.Element]:
    return [c for c in ElementTree.fromstring(svg_text).iter(f"{SVG}circle") if "data-day" in c.attrib]


# --- chart-builder -------------------------------------------------------------------------------------------


async def test_chart_builder_draws_one_point_per_commit_day(repo: Path, out: Path) -> None:
    transcript = await drive(SimProvider(speed=FAST), agent="charts", role="chart-builder", task="Chart LOC.", project=repo, out_root=out)
    points = circles((out / "charts" / "loc.svg").read_text())
    commit_days = sorted(set(git(repo, "log", "--date=short", "--format=%ad").split()))
    assert [p.attrib["data-day"] for p in points] == commit_days == list(EXPECTED_LOC)
    assert {p.attrib["data-day"]: int(p.attrib["data-loc"]) for p in points} == EXPECTED_LOC
    rows = list(csv.DictReader(io.StringIO((out / "charts" / "loc.csv").read_text())))
    assert [(r["date"], int(r["lines"])) for r in rows] == list(EXPECTED_LOC.items())
    assert transcript.stops == ["tool_use", "tool_use", "end_turn"]
    assert "4 points" in transcript.final_text and "16 lines" in transcript.texts[1]


async def test_chart_has_title_axes_and_labels(repo: Path, out: Path) -> None:
    await drive(SimProvider(speed=FAST), agent="charts", role="chart-builder", task="Chart LOC.", project=repo, out_root=out)
    root = ElementTree.fromstring((out / "charts" / "loc.svg").read_text())
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert root.find(f"{SVG}title") is not None and "Lines of code" in (root.find(f"{SVG}title").text or "")
    assert "commit day" in texts and "lines of code" in texts and "2024-05-01" in texts
    assert len([line for line in root.iter(f"{SVG}line") if line.get("class") == "axis"]) == 2


async def test_chart_builder_explains_and_stops_when_git_fails(tmp_path: Path, out: Path) -> None:
    project = tmp_path / "not-a-repo"
    project.mkdir()
    transcript = await drive(SimProvider(speed=FAST), agent="charts", role="chart-builder", task="Chart LOC.", project=project, out_root=out)
    assert len(transcript.texts) == 2 and transcript.stops[-1] == "end_turn"
    assert "git did not give me the history" in transcript.final_text and "not a git repository" in transcript.final_text
    assert not (out / "charts" / "loc.svg").exists()


# --- log-analyst ---------------------------------------------------------------------------------------------


async def test_log_analyst_counts_failures_by_root_cause_per_hour(repo: Path, out: Path, tmp_path: Path) -> None:
    db = await failure_db(tmp_path / "fleet.db", sample_failures())
    async with recorded_history(db) as snapshots:
        transcript = await drive_spec(SimProvider(speed=FAST), LOGS, snapshots, repo, out)
    rows = list(csv.reader(io.StringIO((out / "logs" / "failures.csv").read_text())))
    assert rows == [
        ["bucket", "root_cause", "count"],
        ["2026-01-01 00:00", "rate_limit", "2"],
        ["2026-01-01 00:00", "tool:refused", "1"],
        ["2026-01-01 01:00", "killed", "1"],
        ["2026-01-01 01:00", "looping", "1"],
        ["2026-01-01 01:00", "tool:exit code", "1"],
    ]
    root = ElementTree.fromstring((out / "logs" / "failures.svg").read_text())
    legend = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "legend" for t in g.iter(f"{SVG}text")]
    assert legend == ["rate_limit", "killed", "looping", "tool:exit code", "tool:refused"]
    assert sum(int(r.attrib["data-count"]) for r in root.iter(f"{SVG}rect") if "data-count" in r.attrib) == 6
    assert "6 failures in 2 hour buckets" in transcript.final_text and "rate_limit with 2 of 6" in transcript.final_text


async def test_log_analyst_buckets_by_day_when_history_spans_days(repo: Path, out: Path, tmp_path: Path) -> None:
    db = await failure_db(tmp_path / "fleet.db", sample_failures(spread_s=5 * 86_400))
    async with recorded_history(db) as snapshots:
        await drive_spec(SimProvider(speed=FAST), LOGS, snapshots, repo, out)
    buckets = {row["bucket"] for row in csv.DictReader(io.StringIO((out / "logs" / "failures.csv").read_text()))}
    assert buckets == {"2026-01-01", "2026-01-06"}


@pytest.mark.parametrize("with_db", [True, False], ids=["history-without-failures", "no-database"])
async def test_log_analyst_says_when_there_are_no_failures(repo: Path, out: Path, tmp_path: Path, with_db: bool) -> None:
    db = await failure_db(tmp_path / "fleet.db", [ev.Text(agent="a", text="hello", ts=BASE_TS)]) if with_db else None
    async with recorded_history(db) as snapshots:
        transcript = await drive_spec(SimProvider(speed=FAST), LOGS, snapshots, repo, out)
    assert (out / "logs" / "failures.csv").read_text().splitlines() == ["bucket,root_cause,count"]
    root = ElementTree.fromstring((out / "logs" / "failures.svg").read_text())
    assert any("No failures yet" in (t.text or "") for t in root.iter(f"{SVG}text"))
    assert "no failures yet" in transcript.final_text
    assert ("no session database" in transcript.final_text) is not with_db
    assert ("1 session" in transcript.final_text) is with_db


# --- fact-checker --------------------------------------------------------------------------------------------

NOTES = """# Notes

- The bridge opened in 1932 after 8 years of work.
- The bridge is 503 metres long.
- Its architect loved jazz.
"""
SOURCES = """# Sources
- The bridge opened in 1932 after 8 years of construction work.
- The bridge is 1,149 metres long, including approaches.
"""


async def test_fact_checker_gives_each_claim_a_verdict_and_evidence(repo: Path, out: Path) -> None:
    (out / "inputs").mkdir(parents=True)
    (out / "inputs" / "talk-notes.md").write_text(NOTES)
    (out / "inputs" / "sources.md").write_text(SOURCES)
    transcript = await drive(SimProvider(speed=FAST), agent="factcheck", role="fact-checker", task="Check.", project=repo, out_root=out)
    report = (out / "factcheck" / "report.md").read_text()
    table = [line for line in report.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [line.split(" | ")[2] for line in table] == ["supported", "contradicted", "unverifiable"]
    assert "sources.md:2: The bridge opened in 1932" in table[0]
    assert "sources.md:3: The bridge is 1,149 metres long" in table[1]
    assert "3 claims: 1 supported, 1 contradicted, 1 unverifiable" in report
    assert "1 contradicted" in transcript.final_text


async def test_fact_checker_reads_the_files_its_task_names(repo: Path, out: Path) -> None:
    (repo / "docs").mkdir()
    (repo / "docs" / "claims.md").write_text(NOTES)
    (repo / "docs" / "facts.md").write_text(SOURCES)
    task = "Write report.md: check docs/claims.md against docs/facts.md."
    await drive(SimProvider(speed=FAST), agent="factcheck", role="fact-checker", task=task, project=repo, out_root=out)
    report = (out / "factcheck" / "report.md").read_text()
    assert "facts.md:3: The bridge is 1,149 metres long" in report


async def test_fact_checker_stops_when_its_inputs_are_missing(repo: Path, out: Path) -> None:
    transcript = await drive(SimProvider(speed=FAST), agent="factcheck", role="fact-checker", task="Check.", project=repo, out_root=out)
    assert "can't read my inputs" in transcript.final_text and "no such file" in transcript.final_text
    assert not (out / "factcheck").exists() or not (out / "factcheck" / "report.md").exists()


# --- deck-builder and critic ---------------------------------------------------------------------------------


def loc_chart(days: int) -> str:
    xs = [float(n) for n in range(days)]
    labels = [f"2024-{1 + n // 28:02d}-{1 + n % 28:02d}" for n in range(days)]
    data = [{"day": label, "loc": str(10 * n)} for n, label in enumerate(labels)]
    return line_chart("Lines of code", xs, labels, [Series("loc", [10 * x for x in xs], data)], x_title="day", y_title="lines")


def seed_outputs(out: Path, *, loc_days: int = 5) -> None:
    """The files the deck's dependencies would have written."""
    for folder in ("charts", "logs", "factcheck"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    (out / "charts" / "loc.svg").write_text(loc_chart(loc_days))
    (out / "logs" / "failures.svg").write_text(line_chart("Failures", [0.0, 1.0], ["h1", "h2"], [Series("timeout", [1.0, 3.0])], x_title="t", y_title="n"))
    (out / "logs" / "failures.csv").write_text("bucket,root_cause,count\nh1,timeout,1\nh2,timeout,3\nh2,auth,1\n")
    (out / "factcheck" / "report.md").write_text(
        "| # | Claim | Verdict | Evidence |\n|---|---|---|---|\n"
        "| 1 | Sky is blue. | supported | sources.md:2: Sky is blue. |\n"
        "| 2 | We run 40 agents. | contradicted | sources.md:3: We run 48 agents. |\n"
    )


def html_tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    parser = Collector()
    parser.feed(html)
    parser.close()
    return found


async def test_deck_builder_embeds_both_charts_in_a_self_contained_deck(repo: Path, out: Path) -> None:
    seed_outputs(out)
    transcript = await drive(SimProvider(speed=FAST), agent="deck", role="deck-builder", task="Deck.", project=repo, out_root=out)
    html = (out / "deck" / "index.html").read_text()
    tags = html_tags(html)
    assert sum(1 for tag, attrs in tags if tag == "section" and attrs.get("class") == "slide") == 6
    assert sum(1 for tag, _ in tags if tag == "svg") == 2
    assert "loc.svg" in html and "failures.svg" in html
    assert not [a for _, attrs in tags for k, a in attrs.items() if k in ("src", "href") and a and "//" in a]
    assert "<script>" in html and "keydown" in html
    assert "The code base grew to 40 lines over 5 commit days" in html
    assert "5 failures so far; timeout leads with 4" in html
    assert "6 slides" in transcript.final_text


async def test_deck_builder_reads_a_long_chart_page_by_page(repo: Path, out: Path) -> None:
    seed_outputs(out, loc_days=400)
    assert len((out / "charts" / "loc.svg").read_text()) > 32_000
    await drive(SimProvider(speed=FAST), agent="deck", role="deck-builder", task="Deck.", project=repo, out_root=out)
    html = (out / "deck" / "index.html").read_text()
    assert html.count("data-loc=") == 400
    assert "over 400 commit days" in html


async def test_deck_builder_stops_without_charts(repo: Path, out: Path) -> None:
    (out / "factcheck").mkdir(parents=True)
    (out / "factcheck" / "report.md").write_text("nothing")
    transcript = await drive(SimProvider(speed=FAST), agent="deck", role="deck-builder", task="Deck.", project=repo, out_root=out)
    assert "no chart" in transcript.final_text and not (out / "deck" / "index.html").exists()


async def test_critic_cites_the_decks_real_numbers(repo: Path, out: Path) -> None:
    seed_outputs(out)
    (out / "deck").mkdir()
    html = deck_html(Inputs(charts={"out:charts/loc.svg": loc_chart(3)}))
    (out / "deck" / "index.html").write_text(html)
    transcript = await drive(SimProvider(speed=FAST), agent="critique", role="critic", task="Critique.", project=repo, out_root=out)
    critique = (out / "critique" / "critique.md").read_text()
    size_kb = f"{len(html.encode()) / 1024:.1f} KB"
    assert "Checked: 3 slides, 1 chart, " + size_kb in critique
    assert "The deck has 3 slides; six to ten" in critique
    assert "Verdict: ready after small fixes." in critique
    assert '"We run 40 agents." is contradicted by sources.md:3: We run 48 agents' in critique
    assert "3 slides" in transcript.texts[1] and size_kb in transcript.texts[1]


async def test_critic_calls_a_contradicted_claim_stated_as_fact_a_must_fix(repo: Path, out: Path) -> None:
    seed_outputs(out)
    (out / "deck").mkdir()
    (out / "deck" / "index.html").write_text(
        '<html><body><section class="slide"><h1>Facts</h1><p>We run 40 agents.</p></section>'
        '<section class="slide"><h2>Chart</h2><figure><svg aria-label="x"></svg></figure></section></body></html>'
    )
    await drive(SimProvider(speed=FAST), agent="critique", role="critic", task="Critique.", project=repo, out_root=out)
    critique = (out / "critique" / "critique.md").read_text()
    assert "Verdict: needs rework." in critique
    assert 'Slide 1 states "We run 40 agents." as fact' in critique
    assert "Slide 2: a chart has no caption" in critique


async def test_critic_reads_the_deck_its_task_names(repo: Path, out: Path) -> None:
    (out / "slides").mkdir(parents=True)
    (out / "slides" / "talk.html").write_text('<section class="slide"><h1>Only</h1><p>one two three</p></section>')
    task = "Critique the deck at out:slides/talk.html."
    transcript = await drive(SimProvider(speed=FAST), agent="critique", role="critic", task=task, project=repo, out_root=out)
    critique = (out / "critique" / "critique.md").read_text()
    assert "Checked: 1 slide, 0 charts" in critique and "0 fact-checked claims" in critique
    assert "1 slide" in transcript.texts[1]


def test_deck_stats_count_slides_words_and_charts() -> None:
    stats = deck_stats(deck_html(Inputs(charts={"out:charts/loc.svg": loc_chart(4)})))
    assert [s.charts for s in stats.slides] == [0, 1, 0]
    assert stats.slides[1].points == 4 and stats.slides[1].captions == 1 and stats.has_keys
    assert stats.slides[0].heading == "What the fleet found"


# --- custom roles --------------------------------------------------------------------------------------------


async def test_custom_role_reads_project_files_and_writes_notes(repo: Path, out: Path) -> None:
    (repo / "README.md").write_text("# Widget\n\n## Install\n\nRun it.\n")
    transcript = await drive(SimProvider(speed=FAST), agent="notes", role="summariser", task="Summarise the project.", project=repo, out_root=out)
    notes = (out / "notes" / "notes.md").read_text()
    assert "## README.md" in notes and "- heading: Install" in notes and "Task: Summarise the project." in notes
    assert "README.md" in transcript.final_text


# --- reading files page by page ------------------------------------------------------------------------------


def read_context(*pages: tuple[dict, str]) -> Context:
    """A context whose conversation holds these read_file calls and their outputs."""
    messages = [Message("user", (TextPart("task"),))]
    for number, (args, output) in enumerate(pages):
        messages.append(Message("assistant", (ToolCallPart(f"c{number}", "read_file", args),)))
        messages.append(Message("user", (ToolResultPart(f"c{number}", output),)))
    return context_from(ModelRequest(model="m", system="", messages=tuple(messages)), seed=0, run=1)


def test_a_cut_off_file_is_read_on_from_the_offset_the_tool_names() -> None:
    first = "one\ntwo\nthr\n[truncated: 9 more characters; continue with offset=3]"
    ctx = read_context(({"path": "f.txt"}, first))
    assert ctx.file_text("f.txt") == ("one\ntwo\n", 3)
    assert ctx.to_read(["f.txt", "g.txt"]) == (
        Call("read_file", {"path": "f.txt", "offset": 3}),
        Call("read_file", {"path": "g.txt"}),
    )
    ctx = read_context(({"path": "f.txt"}, first), ({"path": "f.txt", "offset": 3}, "three\nfour\n"))
    assert ctx.file_text("f.txt") == ("one\ntwo\nthree\nfour\n", None) and ctx.to_read(["f.txt"]) == ()


def test_a_single_line_longer_than_the_cap_is_kept_as_far_as_it_was_shown() -> None:
    ctx = read_context(({"path": "f.svg"}, "<svg><circle/>\n[truncated: 900 more characters; continue with offset=1]"))
    assert ctx.file_text("f.svg") == ("<svg><circle/>", None)


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("refused: path '../x' is outside the project", "refused"),
        ("no such file or folder: 'x.md'", "no such file"),
        ("fatal: not a git repository\n[exit code 128]", "exit code"),
        ("sleeping\n[timed out after 120 s: the command and its processes were killed]", "timeout"),
        ("[killed by signal SIGKILL]", "killed"),
        ("interrupted by the supervisor before this call finished", "interrupted"),
        ("", "failed"),
    ],
)
def test_a_failed_tool_is_classified_by_how_it_failed(output: str, reason: str) -> None:
    assert tool_reason(output) == reason
