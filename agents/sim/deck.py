"""deck-builder: a self-contained HTML deck embedding the fleet's charts and fact-check."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass, field
from html import escape

from tokenmaxx.agents.sim.context import Call, Context, Exchange, Step, gave_up, first_line, plural
from tokenmaxx.agents.sim.factcheck import report_rows

LISTING = {"path": "out:", "recursive": True}
DATA_LOC = re.compile(r'data-day="([\d-]+)" data-loc="(-?\d+)"')
SVG_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)
PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>\s*")

STYLE = """
html, body { margin: 0; height: 100%; background: #101418; font-family: system-ui, sans-serif; }
.slide { display: none; box-sizing: border-box; height: 100vh; padding: 4vh 6vw; background: #fdfdfd;
  color: #1b1f24; flex-direction: column; justify-content: center; }
.slide.active { display: flex; }
h1 { font-size: 3em; margin: 0 0 .3em; } h2 { font-size: 1.9em; margin: 0 0 .5em; }
p, li { font-size: 1.3em; line-height: 1.45; }
figure { margin: 0; } figure svg { width: 100%; max-height: 64vh; height: auto; }
figcaption { font-size: 1em; color: #444; margin-top: .4em; }
.verdict-contradicted { color: #b42318; } .verdict-unverifiable { color: #8a6100; }
.counter { position: fixed; bottom: 1vh; right: 2vw; color: #888; font-size: .9em; }
@media print { .slide { display: flex; page-break-after: always; } }
"""
SCRIPT = """
const slides = Array.from(document.querySelectorAll('.slide'));
const counter = document.querySelector('.counter');
let current = 0;
function show(index) {
  current = Math.max(0, Math.min(slides.length - 1, index));
  slides.forEach((slide, i) => slide.classList.toggle('active', i === current));
  counter.textContent = (current + 1) + ' / ' + slides.length;
}
document.addEventListener('keydown', (event) => {
  if (['ArrowRight', 'PageDown', ' ', 'l', 'j'].includes(event.key)) show(current + 1);
  if (['ArrowLeft', 'PageUp', 'h', 'k'].includes(event.key)) show(current - 1);
  if (event.key === 'Home') show(0);
  if (event.key === 'End') show(slides.length - 1);
});
show(0);
"""


@dataclass
class Inputs:
    """What the deck is built from: charts (out path -> SVG text), the fact-check rows, failure counts."""

    charts: dict[str, str] = field(default_factory=dict)
    claims: list[tuple[str, str, str]] = field(default_factory=list)  # claim, verdict, evidence
    failures: Counter[str] = field(default_factory=Counter)


def next_step(ctx: Context) -> Step:
    """Look around the out folder, read the inputs, write index.html, report."""
    listings = ctx.calls_to("list_files")
    if not listings:
        return Step(
            ctx.pick("Let me see what the other agents left in the out folder.",
                     "First, a look at everything the fleet has produced so far."),
            (Call("list_files", LISTING),),
        )
    if not listings[-1].ok:
        return gave_up(f"I can't list the out folder: {first_line(listings[-1].output)}. Stopping.")
    wanted = inputs_in(listings[-1].output)
    if not any(path.endswith(".svg") for path in wanted):
        return gave_up("There is no chart in the out folder yet, so there is nothing to build a deck from. Stopping.")
    pending = ctx.to_read(wanted)
    if pending:
        return _read(ctx, pending, first=len(ctx.calls_to("read_file")) == 0)
    written = ctx.writes().get("index.html")
    inputs = gather(ctx, wanted)
    if written is None:
        return _write(ctx, inputs)
    return _summarise(inputs, written)


def inputs_in(listing: str) -> list[str]:
    """The files worth a slide: every SVG chart outside deck/, the fact-check report, failures.csv."""
    paths = [line.strip() for line in listing.splitlines() if line.strip() and not line.strip().endswith("/")]
    charts = [p for p in paths if p.endswith(".svg") and not p.startswith("deck/")]
    extra = [p for p in paths if p.endswith("report.md") or p.endswith("failures.csv")]
    return [f"out:{p}" for p in charts + extra]


def gather(ctx: Context, wanted: list[str]) -> Inputs:
    """Parse what was read: charts that are well-formed SVG, report rows, failure totals."""
    inputs = Inputs()
    for path in wanted:
        text, _ = ctx.file_text(path)
        if path.endswith(".svg") and _well_formed(text):
            inputs.charts[path] = PROLOG.sub("", text).strip()
        elif path.endswith("report.md"):
            inputs.claims = report_rows(text)
        elif path.endswith("failures.csv"):
            inputs.failures = _failure_totals(text)
    return inputs


def deck_slides(inputs: Inputs) -> list[str]:
    """The inner HTML of each slide: title, one per chart, two on the fact-check, conclusions."""
    slides = [_title_slide(inputs)]
    slides += [_chart_slide(path, svg, inputs) for path, svg in inputs.charts.items()]
    if inputs.claims:
        slides += [_verdict_slide(inputs.claims), _fix_slide(inputs.claims)]
    return slides + [_closing_slide(inputs)]


def deck_html(inputs: Inputs) -> str:
    """The whole deck as one HTML file with inline style, charts and navigation script."""
    slides = deck_slides(inputs)
    body = "\n".join(f'<section class="slide" id="slide-{i}">\n{s}\n</section>' for i, s in enumerate(slides, 1))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>What the fleet found</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n"
        f'<div class="counter"></div>\n<script>{SCRIPT}</script>\n</body>\n</html>\n'
    )


def _read(ctx: Context, calls: tuple[Call, ...], *, first: bool) -> Step:
    names = ", ".join(c.args["path"].removeprefix("out:") for c in calls)
    if first:
        text = f"Found what I need: {names}. Reading them so every number on a slide comes from a file."
    else:
        text = f"Some files were cut off; reading the rest of {names}."
    return Step(text, calls)


def _write(ctx: Context, inputs: Inputs) -> Step:
    slides = len(deck_slides(inputs))
    opening = ctx.pick("I have the inputs.", "Everything is read.")
    return Step(
        f"{opening} Plan: a title slide, one slide per chart ({len(inputs.charts)}), "
        f"{'two fact-check slides, ' if inputs.claims else ''}and a closing slide: {slides} in all, "
        "charts embedded inline so the file works offline. Writing index.html.",
        (Call("write_file", {"path": "index.html", "content": deck_html(inputs)}),),
    )


def _summarise(inputs: Inputs, written: Exchange) -> Step:
    if not written.ok:
        return gave_up(f"Writing index.html failed: {first_line(written.output)}.")
    slides = len(deck_slides(inputs))
    sources = ", ".join(path.removeprefix("out:") for path in inputs.charts)
    return Step(
        f"index.html is written: {slides} slides, self-contained (inline CSS, SVG and a few lines of script for "
        f"arrow-key navigation). The charts come from {sources}"
        + (f"; the fact-check slides from the report's {len(inputs.claims)} claims." if inputs.claims else ".")
    )


def _title_slide(inputs: Inputs) -> str:
    days = _loc_points(inputs)
    span = f"{days[0][0]} to {days[-1][0]}" if days else "this session"
    return (
        "<h1>What the fleet found</h1>\n"
        f"<p>Code growth, failures and a fact-check of the talk notes, {escape(span)}.</p>\n"
        f"<p>Built from {plural(len(inputs.charts), 'chart')} and {plural(len(inputs.claims), 'checked claim')} in the out folder.</p>"
    )


def _chart_slide(path: str, svg: str, inputs: Inputs) -> str:
    name = path.removeprefix("out:")
    heading, caption = _chart_words(name, svg, inputs)
    return (
        f"<h2>{escape(heading)}</h2>\n<figure>\n{svg}\n"
        f"<figcaption>{escape(caption)} Source: {escape(name)}.</figcaption>\n</figure>"
    )


def _chart_words(name: str, svg: str, inputs: Inputs) -> tuple[str, str]:
    if name.endswith("loc.svg"):
        days = _loc_points(inputs)
        if days:
            return (
                f"The code base grew to {days[-1][1]:,} lines over {plural(len(days), 'commit day')}",
                f"Lines of code (added minus deleted) after each commit day, {days[0][0]} to {days[-1][0]}.",
            )
    if name.endswith("failures.svg") and inputs.failures:
        total = sum(inputs.failures.values())
        return (
            f"{total} failures so far; {leader(inputs.failures)}",
            f"Failures by root cause over time, from the fleet's own event history ({len(inputs.failures)} causes).",
        )
    if name.endswith("failures.svg"):
        return "No failures recorded yet", "Failures by root cause over time: the history has none so far."
    title = SVG_TITLE.search(svg)
    return (title[1].strip() if title else name), f"Chart {name}."


def _verdict_slide(claims: list[tuple[str, str, str]]) -> str:
    counts = Counter(verdict for _, verdict, _ in claims)
    items = "".join(f"<li>{counts[v]} {v}</li>\n" for v in ("supported", "contradicted", "unverifiable"))
    return (
        f"<h2>{counts['supported']} of {len(claims)} talk claims hold up against the sources</h2>\n"
        f"<ul>\n{items}</ul>\n<p>Each claim was checked against one evidence line (factcheck/report.md).</p>"
    )


def _fix_slide(claims: list[tuple[str, str, str]]) -> str:
    flagged = [c for c in claims if c[1] != "supported"]
    if not flagged:
        return "<h2>No claim needs fixing</h2>\n<p>Every claim in the talk notes has a supporting source line.</p>"
    items = "".join(
        f'<li class="verdict-{v}"><strong>{v}:</strong> {escape(c)}<br><small>{escape(e)}</small></li>\n'
        for c, v, e in flagged
    )
    return f"<h2>{len(flagged)} claims to fix before the talk</h2>\n<ul>\n{items}</ul>"


def _closing_slide(inputs: Inputs) -> str:
    points = []
    days = _loc_points(inputs)
    if days:
        points.append(f"{days[-1][1]:,} lines of code after {plural(len(days), 'commit day')}.")
    if inputs.failures:
        points.append(f"{sum(inputs.failures.values())} failures recorded; {leader(inputs.failures)}.")
    flagged = sum(1 for _, v, _ in inputs.claims if v != "supported")
    if inputs.claims:
        points.append(f"{flagged} of {len(inputs.claims)} claims need a fix or a source.")
    items = "".join(f"<li>{escape(p)}</li>\n" for p in points) or "<li>No findings to summarise.</li>\n"
    return f"<h2>Conclusions</h2>\n<ul>\n{items}</ul>"


def leader(counts: Counter[str]) -> str:
    """Which cause leads a count, or that several tie."""
    ranked = counts.most_common()
    tied = [name for name, n in ranked if n == ranked[0][1]]
    if len(tied) > 1:
        return f"{len(tied)} causes tie at {ranked[0][1]} each"
    return f"{ranked[0][0]} leads with {ranked[0][1]}"


def _loc_points(inputs: Inputs) -> list[tuple[str, int]]:
    svg = next((svg for path, svg in inputs.charts.items() if path.endswith("loc.svg")), "")
    return [(day, int(loc)) for day, loc in DATA_LOC.findall(svg)]


def _failure_totals(text: str) -> Counter[str]:
    totals: Counter[str] = Counter()
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("root_cause") and (row.get("count") or "").isdigit():
            totals[row["root_cause"]] += int(row["count"])
    return totals


def _well_formed(svg: str) -> bool:
    try:
        return ElementTree.fromstring(PROLOG.sub("", svg)).tag.endswith("svg")
    except ElementTree.ParseError:
        return False
