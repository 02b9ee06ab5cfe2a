"""The TOML key-line scanner: every key path of a document maps to the line it is written on."""

from __future__ import annotations

import tomllib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmaxx.agents.starter import Site, sample_plan_text
from tokenmaxx.agents.plan_lines import KeyPath, key_lines, line_of

TRICKY = '''\
# a comment with [brackets] and key = "value"
title = "x # not a comment"   # a comment
"quoted key" = 1
'literal.key' = 2
dotted.inner.leaf = true
nums = [
  1,   # one
  [2, 3],
  { a = 4, b.c = 5 },
]
text = """
[[agents]]
name = "fake"
a quote \\""" and more
"""
raw = \'\'\'
[fake.table]
\'\'\'
escaped = "tab\\t \\" \\u00e9"
when = 1979-05-27 07:32:00Z

[[agents]]
name = "a"

[agents.budget]
usd = 1.0

[[agents]]
name = "b"
budget = { usd = 2.0, tokens = 10 }

[ prices . "glm-5.2" ]
input = 1.4
'''


def all_paths(value: Any, prefix: KeyPath = ()) -> list[KeyPath]:
    """Every key path and array index of a parsed TOML value, depth first."""
    paths: list[KeyPath] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        path = (*prefix, key)
        paths.append(path)
        paths.extend(all_paths(child, path))
    return paths


def test_tricky_document_lines() -> None:
    lines = key_lines(TRICKY)
    expected = {
        ("title",): 2,
        ("quoted key",): 3,
        ("literal.key",): 4,
        ("dotted", "inner", "leaf"): 5,
        ("nums",): 6,
        ("nums", 0): 7,
        ("nums", 1): 8,
        ("nums", 1, 1): 8,
        ("nums", 2, "b", "c"): 9,
        ("text",): 11,
        ("raw",): 16,
        ("escaped",): 19,
        ("when",): 20,
        ("agents",): 22,
        ("agents", 0): 22,
        ("agents", 0, "name"): 23,
        ("agents", 0, "budget"): 25,
        ("agents", 0, "budget", "usd"): 26,
        ("agents", 1): 28,
        ("agents", 1, "budget", "tokens"): 30,
        ("prices", "glm-5.2"): 32,
        ("prices", "glm-5.2", "input"): 33,
    }
    assert {path: lines.get(path) for path in expected} == expected


def test_every_parsed_path_has_a_line() -> None:
    for text in (TRICKY, sample_plan_text(), sample_plan_text(Site(log_files=("a.log",), claims=("claims.md", "README.md")))):
        lines = key_lines(text)
        missing = [path for path in all_paths(tomllib.loads(text)) if path not in lines]
        assert missing == []


def test_line_of_falls_back_to_the_nearest_ancestor() -> None:
    lines = key_lines('[[agents]]\nname = "a"\n\n[[agents]]\nname = "b"\n')
    assert line_of(lines, ("agents", 1, "task")) == 4
    assert line_of(lines, ("agents", 1, "name")) == 5
    assert line_of(lines, ("nothing",)) is None
    assert line_of(lines, ()) is None


def test_unscannable_text_keeps_what_it_found() -> None:
    assert key_lines('a = 1\nb = "unterminated\n') == {("a",): 1, ("b",): 2}


_TRICKY_CHARS = st.sampled_from(list('ab \n"\'#[]{}=\\.,') + ['"""', "'''"])


def _render(value: str, style: int) -> str:
    if style == 0:
        return '"""' + value.replace("\\", "\\\\").replace('"', '\\"') + '"""'
    if style == 1 and "'''" not in value and not value.endswith("'"):
        return "'''" + value + "'''"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(_TRICKY_CHARS, max_size=12).map("".join), st.integers(0, 2)), max_size=6))
def test_keys_after_strings_of_any_content_keep_their_lines(values: list[tuple[str, int]]) -> None:
    rows = []
    expected = {}
    line = 1
    for index, (value, style) in enumerate(values):
        row = f"k{index} = {_render(value, style)}  # [x]\n"
        expected[(f"k{index}",)] = line
        rows.append(row)
        line += row.count("\n")
    text = "".join(rows) + "last = 0\n"
    expected[("last",)] = line
    parsed = tomllib.loads(text)
    assert [parsed[f"k{index}"] for index in range(len(values))] == [
        value.removeprefix("\n") if style == 0 or (style == 1 and _render(value, 1).startswith("'''")) else value
        for value, style in values
    ]
    assert key_lines(text) == expected
