"""Text made safe for a terminal: escape sequences, control characters and bidi overrides become visible placeholders.

Every string a model, a tool, a file name or an imported session supplies passes through here before it
is shown or printed, so it can never write the clipboard (OSC 52), retitle the window (OSC 0), plant a
link (OSC 8), clear or move the screen (CSI) or reorder what the reader sees (bidi overrides). The record
keeps the exact text; only its display is made safe. Plain text comes back unchanged after one search.

`␛]52;c;aGVsbG8=␛\\` shows an OSC 52 sequence, `␛[2J` a CSI clear; a C1 control shows as its 7-bit
spelling (U+009B as `␛[`), a C0 control as its control picture (`␇`, `␈`, `␍`), a bidi override by its
name (`⟨RLO⟩`) and a lone surrogate as `�`. A sequence's payload is cut to `PAYLOAD_CHARS` and `…`.
"""

from __future__ import annotations

import re

PAYLOAD_CHARS = 32
"""The most of an escape sequence's payload shown; an OSC 52 carrying a megabyte shows as one short run."""

_BIDI_NAMES = {
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
}
_OTHER_UNSAFE = "\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff"
_IN_TEXT = f"\\x00-\\x08\\x0b-\\x1f{_OTHER_UNSAFE}"
"""What multi-line text may not hold: every control but newline and tab."""
_IN_LINE = f"\\x00-\\x1f{_OTHER_UNSAFE}"
"""What a one-line field may not hold: every control, newline and tab included."""
_SEQUENCES = (
    "(?P<head>\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])(?P<body>[^\\x00-\\x1f" + _OTHER_UNSAFE + "]*)(?:\\x07|\\x1b\\\\|\\x9c)?"
    "|(?:\\x1b\\[|\\x9b)(?P<params>[0-?]*[ -/]*)[@-~]?"
    "|\\x1b[ -/]*[0-~]?"
)
"""String sequences (OSC, DCS, SOS, PM, APC) up to BEL or ST, CSI up to its final byte, and other ESC sequences."""


def _pattern(unsafe: str) -> re.Pattern[str]:
    return re.compile(f"{_SEQUENCES}|\\r\\n|[{unsafe}]")


_TEXT_UNSAFE, _TEXT_SEQUENCE = re.compile(f"[{_IN_TEXT}]"), _pattern(_IN_TEXT)
_LINE_UNSAFE, _LINE_SEQUENCE = re.compile(f"[{_IN_LINE}]"), _pattern(_IN_LINE)


def terminal_safe(text: str) -> str:
    """Multi-line `text` with newlines and tabs kept, CRLF made LF, and every other control shown as a placeholder."""
    if _TEXT_UNSAFE.search(text) is None:
        return text
    return _TEXT_SEQUENCE.sub(_text_placeholder, text)


def terminal_safe_line(text: str) -> str:
    """One-line `text` (a name, a status, a path) with every control, newline and tab included, shown as a placeholder."""
    if _LINE_UNSAFE.search(text) is None:
        return text
    return _LINE_SEQUENCE.sub(_placeholder, text)


def _text_placeholder(match: re.Match[str]) -> str:
    return "\n" if match.group() == "\r\n" else _placeholder(match)


def _placeholder(match: re.Match[str]) -> str:
    """The visible spelling of one sequence or control, its payload cut short."""
    payload = "body" if match.group("body") is not None else "params" if match.group("params") is not None else None
    if payload is None:
        return _pictures(match.group())
    start, end = match.span(payload)
    shown = match.group(payload)
    shown = shown if len(shown) <= PAYLOAD_CHARS else shown[:PAYLOAD_CHARS] + "…"
    text = match.string
    return _pictures(text[match.start() : start]) + shown + _pictures(text[end : match.end()])


def _pictures(text: str) -> str:
    return "".join(_picture(char) for char in text)


def _picture(char: str) -> str:
    """One character as a terminal shows it harmlessly."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "␡"
    if code <= 0x9F:
        return "␛" + chr(code - 0x40) if code >= 0x80 else char
    if char in _BIDI_NAMES:
        return f"⟨{_BIDI_NAMES[char]}⟩"
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else char
