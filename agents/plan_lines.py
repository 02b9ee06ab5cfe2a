"""Map the key paths of a TOML document to the lines they are written on.

`tomllib` reports no positions for keys, so plan errors would name a field but
no line. This scanner walks the (already valid) TOML source once and records,
for every table, array-of-tables element, key, inline-table key and array
element, the line it starts on: `("agents", 2, "after")` -> 14.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BLANK = re.compile(r"[ \t\r]*")
_BLANK_LINES = re.compile(r"[ \t\r\n]*")
_SCALAR = re.compile(r"[^,\]}\n#]*")
_BASIC_RUN = re.compile(r'[^"\\\n]*')
_MULTILINE_BASIC_BODY = re.compile(r'(?:[^"\\]|\\.|"(?!""))*', re.DOTALL)
_MULTILINE_LITERAL_BODY = re.compile(r"(?:[^']|'(?!''))*")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}


class _EndOfText(Exception):
    """The scanner ran past the end of the source."""


class _Scanner:
    """A single pass over TOML source that records the line of every key path."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        self.table: KeyPath = ()
        self.aot_counts: dict[KeyPath, int] = {}

    def peek(self, size: int = 1) -> str:
        return self.text[self.pos : self.pos + size]

    def advance(self, size: int = 1) -> str:
        chunk = self.text[self.pos : self.pos + size]
        if len(chunk) < size:
            raise _EndOfText
        self.line += chunk.count("\n")
        self.pos += size
        return chunk

    def skip_blank(self, *, newlines: bool) -> None:
        """Skip spaces, tabs and comments, and newlines too when `newlines`."""
        blank = _BLANK_LINES if newlines else _BLANK
        while True:
            end = blank.match(self.text, self.pos).end()
            self.line += self.text.count("\n", self.pos, end)
            self.pos = end
            if self.peek() != "#":
                return
            comment_end = self.text.find("\n", self.pos)
            self.pos = len(self.text) if comment_end < 0 else comment_end

    def record(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    def scan(self) -> dict[KeyPath, int]:
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return self.lines
            if self.peek(2) == "[[":
                self.array_table_header()
            elif self.peek() == "[":
                self.table_header()
            else:
                self.key_value(self.table)

    def table_header(self) -> None:
        line = self.line
        self.advance()
        self.table = self.resolve(self.dotted_key(), array_table=False)
        self.record(self.table, line)
        self.skip_blank(newlines=False)
        self.advance()

    def array_table_header(self) -> None:
        line = self.line
        self.advance(2)
        parent = self.resolve(self.dotted_key(), array_table=True)
        index = self.aot_counts.get(parent, 0)
        self.aot_counts[parent] = index + 1
        self.record(parent, line)
        self.table = (*parent, index)
        self.record(self.table, line)
        self.skip_blank(newlines=False)
        self.advance(2)

    def resolve(self, keys: Sequence[str], *, array_table: bool) -> KeyPath:
        """Turn header keys into a path, recording each prefix and entering the latest array-of-tables element."""
        path: KeyPath = ()
        for position, key in enumerate(keys):
            path = (*path, key)
            self.record(path, self.line)
            is_last = position == len(keys) - 1
            if path in self.aot_counts and not (array_table and is_last):
                path = (*path, self.aot_counts[path] - 1)
        return path

    def dotted_key(self) -> list[str]:
        keys = []
        while True:
            self.skip_blank(newlines=False)
            keys.append(self.simple_key())
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return keys
            self.advance()

    def simple_key(self) -> str:
        char = self.peek()
        if char == '"':
            return self.basic_string()
        if char == "'":
            return self.literal_string()
        match = _BARE_KEY.match(self.text, self.pos)
        if match is None:
            raise _EndOfText
        self.pos = match.end()
        return match.group()

    def key_value(self, table: KeyPath) -> None:
        line = self.line
        keys = self.dotted_key()
        for depth in range(1, len(keys) + 1):
            self.record((*table, *keys[:depth]), line)
        self.skip_blank(newlines=False)
        self.advance()
        self.skip_blank(newlines=False)
        self.value((*table, *keys))

    def value(self, path: KeyPath) -> None:
        if self.peek(3) in ('"""', "'''"):
            self.multiline_string(self.peek(3))
        elif self.peek() == '"':
            self.basic_string()
        elif self.peek() == "'":
            self.literal_string()
        elif self.peek() == "[":
            self.array(path)
        elif self.peek() == "{":
            self.inline_table(path)
        else:
            self.scalar()

    def array(self, path: KeyPath) -> None:
        self.advance()
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "]":
                self.advance()
                return
            self.record((*path, index), self.line)
            self.value((*path, index))
            index += 1
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()

    def inline_table(self, path: KeyPath) -> None:
        self.advance()
        while True:
            self.skip_blank(newlines=True)
            if self.peek() == "}":
                self.advance()
                return
            self.key_value(path)
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.advance()

    def scalar(self) -> None:
        self.pos = _SCALAR.match(self.text, self.pos).end()

    def basic_string(self) -> str:
        self.advance()
        chars = []
        while True:
            run = _BASIC_RUN.match(self.text, self.pos)
            chars.append(run.group())
            self.pos = run.end()
            char = self.advance()
            if char == '"':
                return "".join(chars)
            chars.append(self.escape() if char == "\\" else char)

    def escape(self) -> str:
        code = self.advance()
        if code in _ESCAPES:
            return _ESCAPES[code]
        digits = {"x": 2, "u": 4, "U": 8}.get(code)
        if digits is None:
            raise _EndOfText
        return chr(int(self.advance(digits), 16))

    def literal_string(self) -> str:
        self.advance()
        end = self.text.find("'", self.pos)
        if end < 0:
            raise _EndOfText
        content = self.advance(end - self.pos)
        self.advance()
        return content

    def multiline_string(self, quotes: str) -> None:
        self.advance(3)
        body = _MULTILINE_BASIC_BODY if quotes == '"""' else _MULTILINE_LITERAL_BODY
        self.advance(body.match(self.text, self.pos).end() - self.pos)
        self.advance(3)
        extra = 0
        while extra < 2 and self.peek() == quotes[0]:
            self.advance()
            extra += 1


def key_lines(text: str) -> dict[KeyPath, int]:
    """Return the line (1-based) of every key path in `text`, as far as it can be scanned."""
    scanner = _Scanner(text)
    try:
        return scanner.scan()
    except (_EndOfText, ValueError, RecursionError):
        return scanner.lines


def line_of(lines: dict[KeyPath, int], path: Sequence[str | int]) -> int | None:
    """Return the line of `path`, or of its nearest recorded ancestor, or None."""
    for depth in range(len(path), 0, -1):
        line = lines.get(tuple(path[:depth]))
        if line is not None:
            return line
    return None


def nesting_line(text: str, depth: int) -> int | None:
    """Return the line where arrays and inline tables first nest deeper than `depth`, skipping strings and comments."""
    level = 0
    line = 1
    for token in _NESTING_TOKENS.finditer(text):
        char = token.group()[0]
        if char == "\n":
            line += 1
        elif char in "[{":
            level += 1
            if level > depth:
                return line
        elif char in "]}":
            level = max(0, level - 1)
        else:
            line += token.group().count("\n")
    return None


_NESTING_TOKENS = re.compile(r"""\n|[\[{\]}]|#[^\n]*|"(?:[^"\\\n]|\\.)*"|'[^'\n]*'""")
