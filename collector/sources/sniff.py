"""Telling what a file is from its first line, before reading it as JSON Lines.

A file that is not JSON Lines would otherwise be rejected line by line: a pretty-printed
JSON array as hundreds of "invalid JSON" records, a CSV export as one per row. Its first
non-blank line says what it is, and the import stops with one error saying what to do.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import orjson

from collector.errors import InputError

HEAD_BYTES = 65536  # enough for a first line of any sane file; a longer one is read cut


def refuse_other_formats(path: Path) -> None:
    """InputError when a file meant as JSON Lines is a JSON document, or CSV/TSV."""
    first = _first_line(path)
    if first is None:
        return
    shown = shlex.quote(str(path))
    if first.startswith("["):
        raise InputError(
            f"{path} holds a JSON array, but files must be JSON Lines: one event object per "
            f"line. Convert it with: jq -c '.[]' {shown} > events.jsonl"
        )
    if first.startswith("{"):
        if not first.endswith(("{", "[", ",")) or _is_json(first):
            return  # JSON Lines; a broken line is one rejected record
        raise InputError(
            f"{path} holds JSON written over several lines (pretty-printed), but files must "
            f"be JSON Lines: one event object per line. Convert it with: "
            f"jq -c . {shown} > events.jsonl"
        )
    if any(mark in first for mark in (",", "\t", ";")) and not _is_json(first):
        cut = first if len(first) <= 80 else first[:80] + "…"
        raise InputError(
            f"{path} looks like CSV/TSV (its first line: {cut!r}): a CSV/TSV export needs "
            "--mapping, a YAML file saying which columns make which events (docs/mapping.md)"
        )


def _first_line(path: Path) -> str | None:
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    text = head.decode("utf-8", "replace").removeprefix("\ufeff")
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return None


def _is_json(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True
