"""The demo's plan, inputs and sample repository, and its five artifacts made by the sim with the real tools."""

from __future__ import annotations

import csv
import io
import subprocess
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tokenmaxx.agents.demo import DemoError, copy_inputs, demo_plan, demo_workdir, prepare_demo
from tokenmaxx.agents.demo.sample_repo import COMMITS, commit_days, create_sample_repo
from tokenmaxx.agents.plan import load_plan
from tokenmaxx.agents.providers.sim import SimProvider
from tokenmaxx.agents.sim.factcheck import check_all, claims_of, report_rows, sources_of
from tokenmaxx.sessions import events as ev
from tests.agents.sim_driver import drive_spec, failure_db, recorded_history

SVG = "{http://www.w3.org/2000/svg}"
DEMO = Path(__file__).resolve().parents[2] / "agents" / "demo"
EXPECTED_VERDICTS = [
    "supported",
    "supported",
    "contradicted",
    "supported",
    "supported",
    "supported",
    "unverifiable",
    "supported",
]


def git_out(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_sample_repo(tmp_path_factory.mktemp("demo") / "sample-repo")


# --- the plan ----------------------------------------------------------------------------------------------


def test_the_plan_runs_five_sim_agents_with_one_stall_and_one_loop(tmp_path: Path, sample: Path) -> None:
    plan = load_plan(prepare_demo(sample / "tidewatch", tmp_path / "out", speed=2.5, seed=9))
    assert plan.workdir == sample.resolve() and plan.out == (tmp_path / "out").resolve()
    roles = {a.name: a.role for a in plan.agents}
    assert roles == {
        "charts": "chart-builder",
        "logs": "log-analyst",
        "factcheck": "fact-checker",
        "deck": "deck-builder",
        "critique": "critic",
    }
    after = {a.name: a.after for a in plan.agents}
    assert after["deck"] == ["charts", "logs", "factcheck"] and after["critique"] == ["deck"]
    assert {a.name: a.sim for a in plan.agents if a.sim} == {
        "charts": {"loop_on_first_run": True},
        "factcheck": {"stall_at_turn": 2},
    }
    assert plan.stall_after <= 8 and plan.budget.usd is not None
    assert {plan.policy_for(name, "run_command") for name in ("charts", "logs")} == {"auto"}
    sim = plan.provider_config("sim")
    assert (sim.kind, sim.speed, sim.seed, sim.price_as) == ("sim", 2.5, 9, "claude-sonnet-4-6")
    assert "$TOKENMAXX_HISTORY" in plan.agent("logs").task
    assert [a.name for a in plan.agents if a.history] == ["logs"]


def test_demo_plan_returns_the_loaded_plan(tmp_path: Path, sample: Path) -> None:
    plan = demo_plan(sample, tmp_path / "out")
    assert plan.name == "demo" and len(plan.agents) == 5
    assert (tmp_path / "out" / ".demo" / "demo.toml").is_file()


def test_the_demo_runs_on_the_git_repository_around_cwd(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    (repo / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "src" / "a.py").write_text("x = 1\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@e.invalid", "commit", "-q", "-m", "a"],
        check=True,
    )
    assert demo_workdir(repo / "src", tmp_path / "sample") == repo.resolve()
    assert not (tmp_path / "sample").exists()


@pytest.mark.parametrize("with_git_init", [False, True], ids=["no-repository", "repository-without-commits"])
def test_outside_a_repository_with_history_the_demo_makes_a_sample(
    tmp_path: Path, with_git_init: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    cwd = tmp_path / "empty"
    cwd.mkdir()
    if with_git_init:
        subprocess.run(["git", "init", "-q", str(cwd)], check=True)
    workdir = demo_workdir(cwd, tmp_path / "sample")
    assert workdir == (tmp_path / "sample").resolve()
    assert int(git_out(workdir, "rev-list", "--count", "HEAD")) == len(COMMITS)


def test_the_sample_repository_spans_several_days_and_is_reused(tmp_path: Path, sample: Path) -> None:
    days = sorted(set(git_out(sample, "log", "--date=short", "--format=%ad").split()))
    assert days == commit_days() and len(days) == 6 and len(COMMITS) == 12
    head = git_out(sample, "rev-parse", "HEAD")
    assert create_sample_repo(sample) == sample and git_out(sample, "rev-parse", "HEAD") == head
    assert (sample / "tidewatch" / "cli.py").read_text().startswith('"""Command line')


def test_a_half_made_sample_repository_is_rebuilt(tmp_path: Path) -> None:
    broken = tmp_path / "sample"
    broken.mkdir()
    subprocess.run(["git", "init", "-q", str(broken)], check=True)
    (broken / "stray.txt").write_text("left over\n")
    create_sample_repo(broken)
    assert int(git_out(broken, "rev-list", "--count", "HEAD")) == len(COMMITS) and not (broken / "stray.txt").exists()


def test_without_git_the_demo_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DemoError, match="needs git on PATH"):
        demo_workdir(tmp_path, tmp_path / "sample")


# --- the inputs ----------------------------------------------------------------------------------------------


def test_copy_inputs_puts_the_notes_and_sources_in_the_session_out_folder(tmp_path: Path) -> None:
    inputs = copy_inputs(tmp_path / "session")
    assert inputs == tmp_path / "session" / "inputs"
    assert sorted(p.name for p in inputs.iterdir()) == ["sources.md", "talk-notes.md"]
    assert (inputs / "sources.md").read_text() == (DEMO / "sources.md").read_text()


def test_the_talk_notes_have_eight_claims_with_known_verdicts() -> None:
    notes, sources = (DEMO / "talk-notes.md").read_text(), (DEMO / "sources.md").read_text()
    assert len(claims_of(notes)) == 8 and len(sources_of(sources)) == 16
    checks = check_all(notes, sources)
    assert [c.verdict for c in checks] == EXPECTED_VERDICTS
    contradicted = checks[2]
    assert "40 agents" in contradicted.claim and contradicted.evidence is not None
    assert "48 agents" in contradicted.evidence.text


# --- the five artifacts --------------------------------------------------------------------------------------


class Slides(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.slides = 0
        self.svgs = 0
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.slides += tag == "section" and values.get("class") == "slide"
        self.svgs += tag == "svg"
        self.external += [v for k, v in attrs if k in ("src", "href") and v and ("//" in v or v.endswith(".svg"))]


async def test_the_demo_agents_make_all_five_artifacts(tmp_path: Path, sample: Path) -> None:
    out = tmp_path / "out" / "session"
    copy_inputs(out)
    db = await failure_db(tmp_path / "fleet.db", [ev.AgentFlagged(agent="charts", flag="looping", ts=1_767_225_600.0)])
    plan = demo_plan(sample, tmp_path / "out")
    provider = SimProvider(speed=1000)
    async with recorded_history(db) as snapshots:
        for agent in plan.topological_order():
            await drive_spec(provider, plan.agent(agent), snapshots, sample, out)

    points = [c for c in ElementTree.parse(out / "charts" / "loc.svg").iter(f"{SVG}circle") if "data-day" in c.attrib]
    assert [p.attrib["data-day"] for p in points] == commit_days()
    head_lines = sum(len(git_out(sample, "show", f"HEAD:{f}").splitlines()) for f in git_out(sample, "ls-files").split())
    assert int(points[-1].attrib["data-loc"]) == head_lines

    rows = list(csv.DictReader(io.StringIO((out / "logs" / "failures.csv").read_text())))
    assert rows == [{"bucket": "2026-01-01 00:00", "root_cause": "looping", "count": "1"}]
    ElementTree.parse(out / "logs" / "failures.svg")

    verdicts = [verdict for _, verdict, _ in report_rows((out / "factcheck" / "report.md").read_text())]
    assert verdicts == EXPECTED_VERDICTS

    html = (out / "deck" / "index.html").read_text()
    deck = Slides()
    deck.feed(html)
    deck.close()
    assert deck.slides == 6 and deck.svgs == 2 and deck.external == []
    assert "loc.svg" in html and "failures.svg" in html

    critique = (out / "critique" / "critique.md").read_text()
    assert f"Checked: 6 slides, 2 charts, {len(html.encode()) / 1024:.1f} KB" in critique
    assert "40 agents" in critique and "48 agents" in critique
