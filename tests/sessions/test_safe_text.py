"""terminal_safe and terminal_safe_line: escape sequences and controls become placeholders; plain text passes unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenmaxx.sessions.safe_text import PAYLOAD_CHARS, terminal_safe, terminal_safe_line
from tests.hostile_text import (
    BIDI,
    C1_CSI,
    C1_OSC,
    CSI_CLEAR,
    CSI_MOVE,
    HOSTILE,
    OSC0_TITLE,
    OSC8_LINK,
    OSC52_BEL,
    OSC52_ST,
    assert_shown_safely,
    raw_controls,
)


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        (OSC52_ST, "␛]52;c;aGVsbG8=␛\\"),
        (OSC52_BEL, "␛]52;c;d29ybGQ=␇"),
        (OSC0_TITLE, "␛]0;pwned title␇"),
        (OSC8_LINK, "␛]8;;https://evil.example/␛\\click␛]8;;␛\\"),
        (CSI_CLEAR + CSI_MOVE, "␛[2J␛[10;10H"),
        (C1_CSI, "␛[31m"),
        (C1_OSC, "␛]0;x␇"),
        ("lone\x1b", "lone␛"),
        ("\x1bc reset", "␛c reset"),
        ("bell\x07 back\x08 cr\r del\x7f nul\x00", "bell␇ back␈ cr␍ del␡ nul␀"),
        (BIDI, "⟨RLO⟩evil⟨PDF⟩"),
        ("half \ud800 surrogate", "half \ufffd surrogate"),
    ],
)
def test_each_attack_shows_as_its_placeholder(hostile: str, shown: str) -> None:
    assert terminal_safe(hostile) == shown
    assert terminal_safe_line(hostile) == shown


def test_multi_line_text_keeps_newlines_and_tabs_and_drops_the_cr_of_crlf() -> None:
    assert terminal_safe("a\tb\r\nc\n") == "a\tb\nc\n"


def test_a_one_line_field_shows_newlines_and_tabs() -> None:
    assert terminal_safe_line("name\twith\nnewline\r\n") == "name␉with␊newline␍␊"


def test_a_huge_payload_is_cut_short() -> None:
    shown = terminal_safe("x\x1b]52;c;" + "A" * 1_000_000 + "\x07y")
    assert shown == "x␛]52;c;" + "A" * (PAYLOAD_CHARS - 5) + "…␇y"


def test_the_shared_hostile_line_is_shown_safely() -> None:
    assert_shown_safely(terminal_safe(HOSTILE))
    assert_shown_safely(terminal_safe_line(HOSTILE))


def test_plain_text_comes_back_as_the_same_object() -> None:
    text = "A chart of commits per week · 42 € ✓ 漢字 [bold]markup[/bold]\n\tindented"
    assert terminal_safe(text) is text


@given(st.text())
def test_no_control_survives_in_text(text: str) -> None:
    shown = terminal_safe(text)
    assert raw_controls(shown) == []
    assert "\r" not in shown
    assert not any(0xD800 <= ord(char) <= 0xDFFF for char in shown)


@given(st.text())
def test_no_control_newline_or_tab_survives_in_a_line(text: str) -> None:
    shown = terminal_safe_line(text)
    assert raw_controls(shown) == []
    assert "\n" not in shown and "\t" not in shown


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")))
def test_text_without_controls_is_unchanged(text: str) -> None:
    assert terminal_safe(text) == text
    assert terminal_safe_line(text) == text
