"""An agent's summary (the conclusion its final reply ends with, in whole sentences) and whether it says it failed."""

from __future__ import annotations

import re

SUMMARY_CHARS = 400
TASK_FAILED = "Task failed."
"""How an agent ends a final reply that says it could not do its task (the fleet's system prompt asks for it)."""
FAILED_AT_END = re.compile(r"\btask failed\W*$", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def summary_of(reply: str, limit: int = SUMMARY_CHARS) -> str:
    """The last paragraph of `reply`, its last whole sentences when it is longer than `limit`, marked "…" when cut."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", reply) if p.strip()]
    last = paragraphs[-1] if paragraphs else ""
    if len(last) <= limit:
        return last
    kept = ""
    for sentence in reversed(_sentences(last)):
        joined = f"{sentence} {kept}".strip()
        if len(joined) > limit - 1:
            break
        kept = joined
    return "…" + (kept or _tail_words(last, limit - 1))


def reports_failure(reply: str) -> bool:
    """Whether a final reply ends saying the task failed, as the system prompt asks an agent that could not do it."""
    return bool(FAILED_AT_END.search(reply.strip()))


def _sentences(text: str) -> list[str]:
    return [s for s in (piece.strip() for piece in SENTENCE_END.split(text)) if s]


def _tail_words(text: str, limit: int) -> str:
    tail = text[-limit:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail
