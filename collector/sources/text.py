"""Input bytes made text: one rule for files and HTTP bodies alike (DESIGN section 2).

A line that holds invalid UTF-8 or a NUL byte cannot be a record: it is rejected with its
position, never repaired. (Files once had invalid bytes silently replaced and accepted,
while HTTP refused the same bytes.) Its text is still kept for the quarantine, with each
invalid byte written as ``\\xff``, so an operator sees what arrived.
"""

from __future__ import annotations

from typing import Any, NamedTuple


def decode_line(data: bytes, line: int | None = None) -> tuple[str, str | None]:
    """The text of one line, and why it cannot be a record (None when it can be one).

    ``line`` is named in the reason when the position of the record does not already
    say it (an HTTP body's records are positioned by index, a file's by line)."""
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        return data.decode("utf-8", "backslashreplace"), invalid_utf8(data, exc.start, line)
    if "\x00" in text:
        return text, nul_byte(text.index("\x00") + 1, line)
    return text, None


def invalid_utf8(data: bytes, start: int, line: int | None = None) -> str:
    """The reason for the invalid byte at ``start`` of a line."""
    column = len(data[:start].decode()) + 1  # the characters before it are valid
    return f"invalid UTF-8 at {at(column, line)} (byte 0x{data[start]:02x})"


def nul_byte(column: int, line: int | None = None) -> str:
    """The reason for a NUL byte in a line, at a column counted in characters."""
    return f"a NUL byte (U+0000) at {at(column, line)}: no input may contain NUL"


def at(column: int, line: int | None = None) -> str:
    return f"column {column}" if line is None else f"line {line}, column {column}"


class Nul(NamedTuple):
    """Where a parsed value holds a NUL: the path of the string (or of the object whose
    ``key`` holds it), and that string."""

    path: str
    text: str
    key: bool


def find_nul(value: Any, path: str = "") -> Nul | None:
    """The first string, object key or value, that holds a NUL in a parsed JSON or YAML
    value; paths read ``attributes.topic`` and ``extra.deep[1]``, long keys cut short.

    Walked with a stack of its own, not by recursion: JSON may nest 1,024 deep, past
    Python's recursion limit, and one such record must be refused, not crash its batch.
    """
    # Entries are (parent path, key or _ITEM, value), popped in document order.
    stack: list[tuple[str, Any, Any]] = [(path, _ITEM, value)]
    while stack:
        parent, key, item = stack.pop()
        where = parent
        if key is not _ITEM:
            if isinstance(key, str) and "\x00" in key:
                return Nul(parent, key, key=True)
            name = str(key) if len(str(key)) <= 64 else f"{str(key)[:64]}…"
            where = f"{parent}.{name}" if parent else name
        if isinstance(item, str):
            if "\x00" in item:
                return Nul(where, item, key=False)
        elif isinstance(item, dict):
            stack.extend((where, k, v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", _ITEM, v) for i, v in reversed(list(enumerate(item))))
    return None


_ITEM = object()  # marks a stack entry that is a list item or the root, not an object member
