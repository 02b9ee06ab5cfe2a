"""critic: reads the deck's real HTML and writes a critique of slides, captions, density and claims."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

from tokenmaxx.agents.sim.context import Call, Context, Exchange, Step, gave_up, first_line, plural
from tokenmaxx.agents.sim.factcheck import report_rows

DECK = "out:deck/index.html"
REPORT = "out:factcheck/report.md"
DENSE_WORDS = 60
EXTERNAL = ("http:", "https:", "//")
SKIPPED = frozenset({"svg", "script", "style"})


@dataclass
class Slide:
    """What one `<section class="slide">` holds."""

    number: int
    heading: str = ""
    words: int = 0
    text: str = ""
    charts: int = 0
    captions: int = 0
    labelled_charts: int = 0
    points: int = 0


@dataclass
class DeckStats:
    """The facts a critique rests on, all counted from the HTML."""

    size: int = 0
    slides: list[Slide] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    has_keys: bool = False


class _DeckParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stats = DeckStats()
        self._skip: list[str] = []
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if (values.get(name) or "").startswith(EXTERNAL):
                self.stats.external.append(values[name] or "")
        if tag == "section" and "slide" in (values.get("class") or "").split():
            self.stats.slides.append(Slide(len(self.stats.slides) + 1))
        slide = self.stats.slides[-1] if self.stats.slides else None
        if slide is not None:
            self._count(tag, values, slide)
        if tag in SKIPPED:
            self._skip.append(tag)
        self._in_heading = tag in ("h1", "h2") or self._in_heading

    def _count(self, tag: str, values: dict[str, str | None], slide: Slide) -> None:
        if tag == "svg" and not self._skip:
            slide.charts += 1
            slide.labelled_charts += bool(values.get("aria-label"))
        elif tag == "figcaption":
            slide.captions += 1
        elif tag == "circle" and "data-loc" in values:
            slide.points += 1

    def handle_endtag(self, tag: str) -> None:
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()
        if tag in ("h1", "h2"):
            self._in_heading = False

    def handle_data(self, data: str) -> None:
        if self._skip and self._skip[-1] == "script":
            self.stats.has_keys = self.stats.has_keys or "keydown" in data
        if self._skip or not self.stats.slides:
            return
        slide = self.stats.slides[-1]
        slide.words += len(data.split())
        slide.text += " " + " ".join(data.split())
        if self._in_heading:
            slide.heading += data.strip()


def deck_stats(html: str) -> DeckStats:
    """Count slides, words, charts, captions, points and external references in the deck."""
    parser = _DeckParser()
    parser.feed(html)
    parser.close()
    parser.stats.size = len(html.encode("utf-8"))
    return parser.stats


def next_step(ctx: Context) -> Step:
    """Read the deck (and the fact-check), write critique.md, report."""
    deck = (ctx.task_paths(".html") or [DECK])[0]
    reads = ctx.reads()
    if deck not in reads:
        return Step(
            ctx.pick("Reading the deck itself, and the fact-check it was built from, so I can check it against that.",
                     "I'll read the deck's HTML and the fact-check report behind it."),
            ctx.to_read([deck, REPORT]),
        )
    if not reads[deck].ok:
        return gave_up(f"I can't read the deck: {first_line(reads[deck].output)}. Nothing to critique.")
    rest = ctx.to_read([deck, REPORT])
    if rest:
        return Step("Part of my input was cut off; reading the rest.", rest)
    stats = deck_stats(ctx.file_text(deck)[0])
    report = reads.get(REPORT)
    claims = report_rows(ctx.file_text(REPORT)[0]) if report is not None and report.ok else []
    written = ctx.writes().get("critique.md")
    if written is None:
        return _write(ctx, stats, claims)
    return _summarise(stats, claims, written)


def critique_md(stats: DeckStats, claims: list[tuple[str, str, str]]) -> str:
    """The critique: verdict, what was checked, then must fix, should fix and works well."""
    must, should, good = must_fix(stats, claims), should_fix(stats, claims), works_well(stats)
    charts = sum(s.charts for s in stats.slides)
    lines = [
        "# Critique of deck/index.html",
        "",
        f"Verdict: {verdict(must, should)}.",
        "",
        f"Checked: {plural(len(stats.slides), 'slide')}, {plural(charts, 'chart')}, {stats.size / 1024:.1f} KB, "
        f"{plural(len(stats.external), 'external reference')}, {plural(len(claims), 'fact-checked claim')}.",
    ]
    for title, points in (("Must fix", must), ("Should fix", should), ("Works well", good)):
        lines += ["", f"## {title}", ""] + [f"- {p}" for p in points or ["Nothing."]]
    return "\n".join(lines) + "\n"


def verdict(must: list[str], should: list[str]) -> str:
    """Ready, ready after small fixes, or needs rework."""
    return "needs rework" if must else "ready after small fixes" if should else "ready"


def must_fix(stats: DeckStats, claims: list[tuple[str, str, str]]) -> list[str]:
    """Problems that make the deck wrong or unusable."""
    points = [f"The deck loads {ref} from the network; inline it so the deck works offline." for ref in stats.external]
    for slide in stats.slides:
        if slide.charts > slide.captions:
            points.append(f"Slide {slide.number}: a chart has no caption; say what it shows and where it came from.")
        if slide.charts > slide.labelled_charts:
            points.append(f"Slide {slide.number}: a chart has no aria-label, so a screen reader gets nothing.")
    for claim, verdict_, _ in claims:
        carried = [s for s in stats.slides if claim in s.text and verdict_ not in s.text]
        if verdict_ == "contradicted" and carried:
            points.append(f'Slide {carried[0].number} states "{claim}" as fact, but the fact-check contradicts it.')
    return points


def should_fix(stats: DeckStats, claims: list[tuple[str, str, str]]) -> list[str]:
    """Problems that weaken the deck."""
    points = []
    for slide in stats.slides:
        if slide.words > DENSE_WORDS:
            points.append(f"Slide {slide.number} carries {slide.words} words; cut it to the takeaway or split it.")
        if slide.points == 1:
            points.append(f"Slide {slide.number}: the chart has a single data point, so it shows no trend.")
    for claim, verdict_, evidence in claims:
        if verdict_ == "contradicted":
            points.append(f'"{claim}" is contradicted by {evidence.rstrip(".")}; put the source\'s value on the slide.')
        elif verdict_ == "unverifiable":
            points.append(f'"{claim}" has no source; find one or drop the claim from the talk.')
    if not 6 <= len(stats.slides) <= 10:
        points.append(f"The deck has {plural(len(stats.slides), 'slide')}; six to ten keeps a short talk on track.")
    return points


def works_well(stats: DeckStats) -> list[str]:
    """What the deck gets right, briefly."""
    points = []
    if not stats.external:
        points.append(f"Self-contained: {stats.size / 1024:.1f} KB with no external references.")
    if stats.has_keys:
        points.append("Keyboard navigation works from an inline script.")
    captioned = [s.number for s in stats.slides if s.charts and s.charts <= s.captions]
    if captioned:
        points.append(f"Charts on slides {', '.join(map(str, captioned))} carry captions naming their source.")
    densest = max(stats.slides, key=lambda s: s.words, default=None)
    if densest is not None and densest.words <= DENSE_WORDS:
        points.append(f"Text stays light: the densest slide ({densest.number}) has {densest.words} words.")
    return points


def _write(ctx: Context, stats: DeckStats, claims: list[tuple[str, str, str]]) -> Step:
    must, should = must_fix(stats, claims), should_fix(stats, claims)
    densest = max(stats.slides, key=lambda s: s.words, default=Slide(0))
    return Step(
        f"The deck has {plural(len(stats.slides), 'slide')} and {plural(sum(s.charts for s in stats.slides), 'inline chart')} in "
        f"{stats.size / 1024:.1f} KB; the densest slide is {densest.number} with {densest.words} words. "
        f"I count {len(must)} must-fix and {len(should)} should-fix points. "
        + ctx.pick("Writing critique.md.", "Putting it in critique.md."),
        (Call("write_file", {"path": "critique.md", "content": critique_md(stats, claims)}),),
    )


def _summarise(stats: DeckStats, claims: list[tuple[str, str, str]], written: Exchange) -> Step:
    if not written.ok:
        return gave_up(f"Writing critique.md failed: {first_line(written.output)}.")
    must, should = must_fix(stats, claims), should_fix(stats, claims)
    top = (must or should or ["nothing pressing"])[0]
    return Step(f"critique.md is written. Verdict: {verdict(must, should)}. Most important: {top}")
