"""The plan `tokenmaxx init` writes: agents fitted to what the folder offers, or a sample project beside the plan.

    survey(folder) -> Site                  what the folder gives the agents: git history, log files, claims
    sample_plan_text(site) -> str           the commented plan for that site
    write_sample_plan(path, force) -> Written   surveys, makes the sample project if needed, writes the plan
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template

from tokenmaxx.agents.plan_errors import display_path

SAMPLE_DIR = "tokenmaxx-sample"
SAMPLE_NOTES = ("inputs/talk-notes.md", "inputs/sources.md")
CLAIM_FILES = ("talk-notes.md", "claims.md")
SOURCE_FILES = ("sources.md", "README.md")
MAX_LOG_FILES = 5
SKIPPED_FOLDERS = frozenset({"node_modules", "tokenmaxx-out", SAMPLE_DIR})

CHARTS = '''[[agents]]
name = "charts"
role = "chart-builder"
provider = "sim"
task = """
Chart the lines of code in this repository over time, one point per day with commits,
from `git log --numstat`. Write loc.csv (date,lines) and loc.svg.
"""
policy = { run_command = "auto" }   # it needs git; commands run in its own out folder
budget = { usd = 0.50 }
'''

LOGS_OF_FILES = '''[[agents]]
name = "logs"
role = "log-analyst"
provider = "sim"
task = """
Group the failures in this project's log files ($files) by root cause per day,
and write failures.csv (date,cause,count) and failures.svg.
"""
policy = { run_command = "auto" }
history = true                      # the simulated model mines the fleet's own history instead
budget = { usd = 0.50 }
'''

LOGS_OF_HISTORY = '''[[agents]]
name = "logs"
role = "log-analyst"
provider = "sim"
task = """
Find the fleet's failures in its own history (a read-only snapshot of the session database at
$$TOKENMAXX_HISTORY) and group them by root cause over time: write failures.csv
(bucket,root_cause,count) and failures.svg.
"""
policy = { run_command = "auto" }
history = true                      # its commands get $$TOKENMAXX_HISTORY, a snapshot taken when it starts
budget = { usd = 0.50 }
'''

FACTCHECK = '''[[agents]]
name = "factcheck"
role = "fact-checker"
provider = "sim"
task = """
Check each claim in $notes against $sources. Write report.md with a verdict per claim
(supported, contradicted or unverifiable) and the evidence line.
"""
budget = { usd = 0.50 }
'''

DECK = '''[[agents]]
name = "deck"
role = "deck-builder"
provider = "sim"
task = "Build a short slide deck, index.html, from the other agents' results: $inputs."
after = $after
budget = { usd = 1.00 }
'''

CRITIQUE = '''[[agents]]
name = "critique"
role = "critic"
provider = "sim"
task = "Critique the deck at out:deck/index.html against the files it was built from. Write critique.md."
after = ["deck"]
budget = { usd = 0.50 }
'''


class InitError(Exception):
    """The folder cannot get a plan that works there (no git for the sample project, or its folder is taken)."""


@dataclass(frozen=True, slots=True)
class Site:
    """What the plan's folder gives the agents; `sample` when the workdir is the sample project made beside the plan."""

    workdir: str = "."
    sample: bool = False
    log_files: tuple[str, ...] = ()
    claims: tuple[str, str] | None = None
    reasons: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Written:
    """A plan `init` wrote, and the site it was fitted to."""

    path: Path
    site: Site


def survey(folder: Path) -> Site:
    """What `folder` offers: a git history, log files and a claims file; a sample project when there is no history."""
    if not has_history(folder):
        notes, sources = SAMPLE_NOTES
        why = f"this folder is not in a git repository with commits, so the agents work on a sample project in {SAMPLE_DIR}/"
        return Site(workdir=SAMPLE_DIR, sample=True, claims=(notes, sources), reasons=(why,))
    logs, claims = log_files(folder), claims_files(folder)
    return Site(log_files=logs, claims=claims, reasons=_repo_reasons(logs, claims))


def _repo_reasons(logs: tuple[str, ...], claims: tuple[str, str] | None) -> tuple[str, ...]:
    reasons = ["the agents work on this folder, in a git repository with commits"]
    if logs:
        reasons.append(f"the logs agent reads its log files: {', '.join(logs)}")
    else:
        reasons.append("it has no *.log files, so the logs agent charts the fleet's own failures instead")
    if claims is not None:
        reasons.append(f"the fact-checker checks the claims in {claims[0]} against {claims[1]}")
    else:
        reasons.append(f"it has no {' or '.join(CLAIM_FILES)} of claims to check, so there is no fact-checker (add one, then `tokenmaxx init --force`)")
    return tuple(reasons)


def has_history(folder: Path) -> bool:
    """Whether `folder` lies in a git repository that has at least one commit."""
    try:
        head = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=folder, capture_output=True, check=False)
    except (FileNotFoundError, NotADirectoryError):
        return False
    return head.returncode == 0


def log_files(folder: Path) -> tuple[str, ...]:
    """Up to a few `*.log` files at the top of `folder` or one folder down, skipping hidden and generated folders."""
    found = sorted(folder.glob("*.log")) + sorted(
        path for path in folder.glob("*/*.log") if not path.parent.name.startswith(".") and path.parent.name not in SKIPPED_FOLDERS
    )
    return tuple(path.relative_to(folder).as_posix() for path in found if path.is_file())[:MAX_LOG_FILES]


def claims_files(folder: Path) -> tuple[str, str] | None:
    """A notes file of claims and the sources to check them against, when the folder has both."""
    notes = next((name for name in CLAIM_FILES if (folder / name).is_file()), None)
    sources = next((name for name in SOURCE_FILES if (folder / name).is_file()), None)
    return (notes, sources) if notes is not None and sources is not None else None


def sample_plan_text(site: Site | None = None) -> str:
    """Return the commented plan `tokenmaxx init` writes for `site` (default: a git repository with nothing else)."""
    site = site or Site()
    template = resources.files("tokenmaxx.agents").joinpath("sample_plan.toml").read_text("utf-8")
    workdir = json.dumps(site.workdir)
    about = "\n".join(["# Written by `tokenmaxx init` for what this folder offers:", *(f"#   {reason}." for reason in site.reasons)])
    return Template(template).substitute(about=about, workdir=workdir, pad=" " * max(1, 17 - len(workdir)), agents=_agents(site))


def _agents(site: Site) -> str:
    blocks = [CHARTS, _logs(site)]
    inputs = ["the chart of lines of code", "the failures chart"]
    after = ["charts", "logs"]
    if site.claims is not None:
        blocks.append(Template(FACTCHECK).substitute(notes=site.claims[0], sources=site.claims[1]))
        inputs.append("the fact-check report")
        after.append("factcheck")
    blocks.append(Template(DECK).substitute(inputs=", ".join(inputs), after=json.dumps(after)))
    blocks.append(CRITIQUE)
    return "\n".join(blocks)


def _logs(site: Site) -> str:
    if site.log_files:
        return Template(LOGS_OF_FILES).substitute(files=", ".join(site.log_files))
    return Template(LOGS_OF_HISTORY).substitute()


def write_sample_plan(path: Path, *, force: bool = False) -> Written:
    """Survey the plan's folder, make the sample project there if it needs one, and write the plan to `path`."""
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{display_path(path)} already exists; use --force to overwrite it")
    if path.is_dir():
        raise IsADirectoryError(f"{display_path(path)} is a folder, not a plan file")
    path.parent.mkdir(parents=True, exist_ok=True)
    site = survey(path.parent)
    if site.sample:
        make_sample_project(path.parent / SAMPLE_DIR)
    path.write_text(sample_plan_text(site), "utf-8")
    return Written(path, site)


def make_sample_project(folder: Path) -> None:
    """Create the demo's sample repository at `folder`, with the talk notes and sources under inputs/."""
    from tokenmaxx.agents.demo import copy_inputs
    from tokenmaxx.agents.demo.sample_repo import create_sample_repo, is_sample_repo

    if folder.exists() and not is_sample_repo(folder):
        raise InitError(f"{display_path(folder)} exists and is not tokenmaxx's sample project; move it, or run init in another folder")
    try:
        create_sample_repo(folder)
    except FileNotFoundError:
        raise InitError("this folder has no git history and the sample project needs git on PATH; install git") from None
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace").strip()
        raise InitError(f"could not create the sample project in {display_path(folder)}: {detail or error}") from None
    copy_inputs(folder)
