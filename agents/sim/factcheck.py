"""fact-checker: each claim of the talk notes against the sources, by word overlap and numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from tokenmaxx.agents.sim.context import Call, Context, Exchange, Step, gave_up, first_line

REPORT = "report.md"
NOTES = "out:inputs/talk-notes.md"
SOURCES = "out:inputs/sources.md"
MATCH_THRESHOLD = 0.5
BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*\S)\s*$")
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
WORD = re.compile(r"[a-z]+")
CELL_SPLIT = re.compile(r"(?<!\\)\|")
STOPWORDS = frozenset(
    "a an and are as at be by for from had has have in is it its of on or that the their this to was were "
    "with will our we they there than then into per each every after before about".split()
)

Verdict = Literal["supported", "contradicted", "unverifiable"]


@dataclass(frozen=True, slots=True)
class Source:
    """One fact line of a sources file."""

    file: str
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class Check:
    """A claim, its verdict, and the best-matching source line (if any matched at all)."""

    claim: str
    verdict: Verdict
    evidence: Source | None
    score: float


def next_step(ctx: Context) -> Step:
    """Read notes and sources, write report.md, then summarise."""
    notes, sources = input_paths(ctx)
    reads = ctx.reads()
    if notes not in reads or sources not in reads:
        return _read_inputs(ctx, ctx.to_read([notes, sources]))
    missing = [reads[p] for p in (notes, sources) if not reads[p].ok]
    if missing:
        return gave_up(f"I can't read my inputs: {first_line(missing[0].output)}. Nothing to check, so I'm stopping.")
    rest = ctx.to_read([notes, sources])
    if rest:
        return Step("One of the files was cut off; reading the rest before I judge anything.", rest)
    checks = check_all(ctx.file_text(notes)[0], ctx.file_text(sources)[0], sources_file=PurePosixPath(sources).name)
    if not checks:
        return Step("The talk notes have no bullet points, so there are no claims to check.")
    written = ctx.writes().get(REPORT)
    if written is None:
        return _write_report(ctx, checks)
    return _summarise(checks, written)


def input_paths(ctx: Context) -> tuple[str, str]:
    """The notes and the sources: the first two Markdown files the task names, else the demo's inputs."""
    named = [path for path in ctx.task_paths(".md") if PurePosixPath(path).name != REPORT]
    return (named[0], named[1]) if len(named) >= 2 else (NOTES, SOURCES)


def claims_of(notes: str) -> list[str]:
    """Each bullet of the notes is one claim."""
    return [m[1] for m in map(BULLET.match, _plain_lines(notes)) if m]


def sources_of(text: str, file: str = "sources.md") -> list[Source]:
    """Each non-heading, non-blank line of the sources file, with its line number."""
    found = []
    for number, line in enumerate(_plain_lines(text), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            bullet = BULLET.match(stripped)
            found.append(Source(file, number, bullet[1] if bullet else stripped))
    return found


def check_claim(claim: str, sources: list[Source]) -> Check:
    """Supported, contradicted (numbers disagree with the best match) or unverifiable (no good match)."""
    words = _words(claim)
    scored = [(len(words & _words(s.text)) / max(1, len(words)), -s.line, s) for s in sources]
    score, _, best = max(scored, key=lambda item: (item[0], item[1])) if scored else (0.0, 0, None)
    if best is None or score < MATCH_THRESHOLD:
        return Check(claim, "unverifiable", best, score)
    claimed, stated = _numbers(claim), _numbers(best.text)
    if claimed - stated:
        return Check(claim, "contradicted" if stated else "unverifiable", best, score)
    return Check(claim, "supported", best, score)


def check_all(notes: str, sources_text: str, *, sources_file: str = "sources.md") -> list[Check]:
    """A check per claim, in the order of the notes."""
    sources = sources_of(sources_text, sources_file)
    return [check_claim(claim, sources) for claim in claims_of(notes)]


def report_md(checks: list[Check]) -> str:
    """The report: a count per verdict, then a table of claim, verdict and evidence line."""
    lines = [
        "# Fact-check: talk notes against sources",
        "",
        f"{len(checks)} claims: {_tally(checks)}.",
        "",
        "| # | Claim | Verdict | Evidence |",
        "|---|---|---|---|",
    ]
    for number, check in enumerate(checks, start=1):
        lines.append(f"| {number} | {_cell(check.claim)} | {check.verdict} | {_cell(_evidence(check))} |")
    return "\n".join(lines) + "\n"


def report_rows(report: str) -> list[tuple[str, str, str]]:
    """The (claim, verdict, evidence) rows of a report written by `report_md`."""
    rows = []
    for line in report.splitlines():
        cells = [c.strip().replace("\\|", "|") for c in CELL_SPLIT.split(line.strip())[1:-1]]
        if len(cells) == 4 and cells[0].isdigit():
            rows.append((cells[1], cells[2], cells[3]))
    return rows


def _read_inputs(ctx: Context, calls: tuple[Call, ...]) -> Step:
    opening = ctx.pick(
        "First the two inputs: the talk notes with the claims, and the sources to check them against.",
        "I'll read the talk notes and the sources file side by side.",
    )
    return Step(opening, calls)


def _write_report(ctx: Context, checks: list[Check]) -> Step:
    flagged = [c for c in checks if c.verdict == "contradicted"]
    detail = ""
    if flagged and flagged[0].evidence is not None:
        first = flagged[0]
        detail = f' The clearest problem: "{first.claim}" disagrees with {_where(first.evidence)}.'
    opening = ctx.pick("Matched every claim against the sources.", "Each claim now has its best source line.")
    return Step(
        f"{opening} {_tally(checks)}.{detail} Writing report.md with the evidence line for each.",
        (Call("write_file", {"path": REPORT, "content": report_md(checks)}),),
    )


def _summarise(checks: list[Check], written: Exchange) -> Step:
    if not written.ok:
        return gave_up(f"Writing report.md failed: {first_line(written.output)}.")
    worst = [c.claim for c in checks if c.verdict != "supported"]
    fix = f' Fix first: "{worst[0]}"' if worst else ""
    return Step(f"report.md is written: {len(checks)} claims, {_tally(checks)}.{fix}")


def _tally(checks: list[Check]) -> str:
    counts = {v: sum(c.verdict == v for c in checks) for v in ("supported", "contradicted", "unverifiable")}
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.items())


def _evidence(check: Check) -> str:
    if check.evidence is None or (check.verdict == "unverifiable" and check.score < MATCH_THRESHOLD):
        return "no source line addresses this"
    return f"{_where(check.evidence)}: {check.evidence.text}"


def _where(source: Source) -> str:
    return f"{source.file}:{source.line}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _plain_lines(text: str) -> list[str]:
    """The lines of a file as read_file showed them, without its note about a cut-off file."""
    return [line for line in text.splitlines() if not line.startswith("[truncated:")]


def _words(text: str) -> set[str]:
    return {_stem(w) for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _numbers(text: str) -> set[float]:
    return {float(n.replace(",", "")) for n in NUMBER.findall(text)}
