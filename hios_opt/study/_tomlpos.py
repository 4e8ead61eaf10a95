"""The line of every key and array item of a TOML text.

:mod:`tomllib` returns plain dicts without positions; a spec error must still
name the line of the culprit. :func:`key_lines` scans a text that
:mod:`tomllib` has already accepted (so it may assume well-formed TOML) and
maps each path, a tuple of keys and array indices, to its 1-based line.

>>> lines = key_lines('name = "x"\\ngenerate = [\\n  {nodes = [20, 30]},\\n]\\n[[sweep]]\\ngpus = 2\\n')
>>> lines[("name",)], lines[("generate", 0, "nodes", 1)], lines[("sweep", 0, "gpus")]
(1, 3, 6)
"""

from __future__ import annotations

__all__ = ["key_lines", "line_of"]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_STOP = set(",]}#\n")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines: dict[tuple, int] = {}
        self.arrays: dict[tuple, int] = {}  # array-of-tables path -> items seen

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos:self.pos + n]

    def advance(self, n: int = 1) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + n)
        self.pos += n

    def skip(self, newlines: bool) -> None:
        """Skip blanks and comments (and newlines when ``newlines``)."""
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    def string(self) -> str:
        for quote in ('"""', "'''"):
            if self.peek(3) == quote:
                start = self.pos + 3
                end = self.text.find(quote, start)
                while quote == '"""' and end > 0 and _escaped(self.text, end):
                    end = self.text.find(quote, end + 1)
                # A closing quote may be followed by one or two more quotes of the content.
                while self.text[end + 3:end + 4] == quote[0]:
                    end += 1
                value = self.text[start:end]
                self.advance(end + 3 - self.pos)
                return value
        quote = self.text[self.pos]
        end = self.text.find(quote, self.pos + 1)
        while quote == '"' and _escaped(self.text, end):
            end = self.text.find(quote, end + 1)
        value = self.text[self.pos + 1:end]
        self.advance(end + 1 - self.pos)
        return value

    def key(self) -> tuple:
        parts = []
        while True:
            self.skip(False)
            if self.peek() in ('"', "'"):
                parts.append(self.string())
            else:
                start = self.pos
                while self.pos < len(self.text) and self.text[self.pos] in _BARE:
                    self.pos += 1
                parts.append(self.text[start:self.pos])
            self.skip(False)
            if self.peek() != ".":
                return tuple(parts)
            self.advance()

    def value(self, path: tuple) -> None:
        self.skip(False)
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c == "[":
            self.advance()
            index = 0
            while True:
                self.skip(True)
                if self.peek() == "]":
                    self.advance()
                    return
                self.lines.setdefault(path + (index,), self.line)
                self.value(path + (index,))
                self.skip(True)
                if self.peek() == ",":
                    self.advance()
                index += 1
        elif c == "{":
            self.advance()
            while True:
                self.skip(False)
                if self.peek() == "}":
                    self.advance()
                    return
                key = path + self.key()
                self.lines.setdefault(key, self.line)
                self.skip(False)
                self.advance()  # '='
                self.value(key)
                self.skip(False)
                if self.peek() == ",":
                    self.advance()
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in _STOP:
                self.pos += 1

    def header_path(self, names: tuple) -> tuple:
        """A table header's path, with the current item of each array of tables in it."""
        path: tuple = ()
        for name in names:
            path += (name,)
            if path in self.arrays:
                path += (self.arrays[path] - 1,)
        return path

    def document(self) -> dict[tuple, int]:
        table: tuple = ()
        while True:
            self.skip(True)
            if self.pos >= len(self.text):
                return self.lines
            if self.peek(2) == "[[":
                self.advance(2)
                names = self.key()
                self.advance(2)
                parent = self.header_path(names[:-1]) + names[-1:]
                self.arrays[parent] = self.arrays.get(parent, 0) + 1
                table = parent + (self.arrays[parent] - 1,)
                self.lines.setdefault(parent, self.line)
                self.lines.setdefault(table, self.line)
            elif self.peek() == "[":
                self.advance()
                table = self.header_path(self.key())
                self.advance()
                self.lines.setdefault(table, self.line)
            else:
                key = table + self.key()
                self.lines.setdefault(key, self.line)
                self.skip(False)
                self.advance()  # '='
                self.value(key)


def _escaped(text: str, index: int) -> bool:
    """Whether the character at ``index`` is escaped by an odd run of backslashes."""
    count = 0
    while index - 1 - count >= 0 and text[index - 1 - count] == "\\":
        count += 1
    return count % 2 == 1


def key_lines(text: str) -> dict[tuple, int]:
    """The 1-based line of each key path and array item path of a valid TOML text."""
    return _Scanner(text).document()


def line_of(lines: dict[tuple, int], path: tuple) -> int | None:
    """The line of ``path``, or of its longest prefix that has one."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
