"""Any custom role: look at the project, read a couple of its key files, write notes on them to the file the task names."""

from __future__ import annotations

from tokenmaxx.agents.sim.context import Call, Context, Exchange, Step, gave_up, first_line

PREFERRED = ("README.md", "README.rst", "README", "pyproject.toml", "package.json", "Cargo.toml", "go.mod")
TEXT_SUFFIXES = (".md", ".txt", ".py", ".toml", ".json", ".rs", ".go", ".js", ".ts", ".yaml", ".yml", ".cfg")
MAX_FILES = 2
DEFAULT_DELIVERABLE = "notes.md"


def next_step(ctx: Context) -> Step:
    """List the project root, read up to two files, write the deliverable the task names (else notes.md), report."""
    listings = ctx.calls_to("list_files")
    if not listings:
        return Step(
            ctx.pick("Starting with a look at the project's top level.", "Let me see what the project holds."),
            (Call("list_files", {"path": "."}),),
        )
    if not listings[-1].ok:
        return gave_up(f"I can't list the project: {first_line(listings[-1].output)}. Stopping.")
    chosen = choose_files(listings[-1].output)
    if not chosen:
        return gave_up("The project's top level has no text files I can summarise, so there is nothing to note.")
    if not ctx.calls_to("read_file"):
        return Step(
            f"The top level has {len(_entries(listings[-1].output))} entries. Reading {', '.join(chosen)} to "
            "understand what it is.",
            tuple(Call("read_file", {"path": name}) for name in chosen),
        )
    reads = [ctx.reads()[name] for name in chosen if name in ctx.reads()]
    target = deliverable(ctx, _entries(listings[-1].output))
    written = ctx.writes().get(target)
    if written is None:
        return _write(ctx, target, reads, len(_entries(listings[-1].output)))
    if not written.ok:
        return gave_up(f"Writing {target} failed: {first_line(written.output)}.")
    return Step(f"{target} is written: a summary of {', '.join(chosen)} for the task at hand.")


def deliverable(ctx: Context, existing: list[str]) -> str:
    """The Markdown or text file the task asks for: the first it names that is neither a project file nor another agent's; else notes.md."""
    named = [p.removeprefix("./") for p in ctx.task_paths(".md") + ctx.task_paths(".txt")]
    wanted = [p for p in named if not p.startswith("out:") and p not in existing and p not in ctx.reads()]
    return min(wanted, key=ctx.task.find) if wanted else DEFAULT_DELIVERABLE


def choose_files(listing: str) -> list[str]:
    """Up to two files worth reading: well-known project files first, then any text file."""
    files = [name for name in _entries(listing) if not name.endswith(("/", "@"))]
    known = [name for name in PREFERRED if name in files]
    others = [name for name in files if name.endswith(TEXT_SUFFIXES) and name not in known]
    return (known + others)[:MAX_FILES]


def notes_md(task: str, reads: list[Exchange], entries: int) -> str:
    """Notes on each file read: its size, its headings or first lines."""
    lines = ["# Notes", "", f"Task: {task.strip().splitlines()[0] if task.strip() else '(none given)'}", ""]
    lines.append(f"The project's top level has {entries} entries. Files read:")
    for read in reads:
        lines += ["", f"## {read.args.get('path')}", ""]
        if not read.ok:
            lines.append(f"Could not read it: {first_line(read.output)}")
            continue
        text = read.output.splitlines()
        headings = [line.lstrip("# ").strip() for line in text if line.startswith("#")][:5]
        lines.append(f"{len(text)} lines.")
        lines += [f"- heading: {h}" for h in headings] or [f"- starts with: {first_line(read.output)}"]
    return "\n".join(lines) + "\n"


def _write(ctx: Context, target: str, reads: list[Exchange], entries: int) -> Step:
    sizes = ", ".join(f"{r.args.get('path')} ({len(r.output.splitlines())} lines)" for r in reads if r.ok)
    return Step(
        f"Read {sizes or 'nothing usable'}. "
        + ctx.pick(f"Writing my notes to {target}.", f"Summarising them in {target}."),
        (Call("write_file", {"path": target, "content": notes_md(ctx.task, reads, entries)}),),
    )


def _entries(listing: str) -> list[str]:
    return [line.strip() for line in listing.splitlines() if line.strip() and not line.startswith(("(", "["))]
