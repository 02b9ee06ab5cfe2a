"""Strings that try to take over a terminal, and the checks that they reached it only as placeholders."""

from __future__ import annotations

import re
from typing import Any

from tokenmaxx.sessions import events as ev
from tests.sessions.samples import every_kind

OSC52_ST = "\x1b]52;c;aGVsbG8=\x1b\\"
OSC52_BEL = "\x1b]52;c;d29ybGQ=\x07"
OSC0_TITLE = "\x1b]0;pwned title\x07"
OSC8_LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
CSI_CLEAR = "\x1b[2J"
CSI_MOVE = "\x1b[10;10H"
C1_CSI = "\x9b31m"
C1_OSC = "\x9d0;x\x07"
BIDI = "\u202eevil\u202c"
HOSTILE = (
    f"{OSC52_ST}{OSC52_BEL}{OSC0_TITLE}{OSC8_LINK}{CSI_CLEAR}{CSI_MOVE}{C1_CSI}{C1_OSC}"
    f" lone\x1b bell\x07 back\x08 cr\r {BIDI}"
)
"""One line carrying every attack: OSC 52 (ST and BEL), OSC 0, OSC 8, CSI clear and move, C1 CSI and OSC, lone ESC, BEL, BS, CR, bidi."""
PLACEHOLDERS = ("␛]52;c;aGVsbG8=", "␛]0;pwned title␇", "␛]8;;https://evil.example/", "␛[2J", "␛[10;10H", "␛[31m", "␛]0;x␇", "⟨RLO⟩")
"""What `HOSTILE` must look like once shown: its sequences spelled out in visible characters."""
_RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def raw_controls(text: str) -> list[str]:
    """The terminal controls (other than newline and tab) and bidi overrides left in `text`."""
    return _RAW.findall(text)


def assert_shown_safely(text: str, placeholders: tuple[str, ...] = PLACEHOLDERS) -> None:
    """`text` holds no raw control and shows each placeholder."""
    assert raw_controls(text) == []
    missing = [p for p in placeholders if p not in text]
    assert missing == [], f"placeholders missing: {missing}"


def hostile_session(session_id: str = "badc0ffee001") -> list[ev.Event]:
    """Every kind of event once, every free-text field, name and path ending in `HOSTILE`, stamped as a recording."""
    return [
        _hostile(event).model_copy(update={"session_id": session_id, "seq": seq, "ts": 1_790_000_000.0 + seq})
        for seq, event in enumerate(every_kind(), start=1)
    ]


def _hostile(event: ev.Event) -> ev.Event:
    fields = {name: _poisoned(value) for name, value in event.model_dump().items() if name not in ("kind", "session_id")}
    for name, field in type(event).model_fields.items():
        if "Literal" in str(field.annotation):
            fields[name] = getattr(event, name)
    return type(event).model_validate(fields)


def _poisoned(value: Any) -> Any:
    if isinstance(value, str):
        return value + HOSTILE
    if isinstance(value, list):
        return [_poisoned(item) for item in value]
    if isinstance(value, dict):
        return {**value, "note": HOSTILE}
    return value
