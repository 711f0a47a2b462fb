"""CSV/TSV files of one row per conversation, read through a declarative YAML mapping.

The mapping (``collector.sources.csvspec``) says how to split the file, which values mean
"absent", how to read times, how to build the conversation id, which rows to quarantine
and which canonical events each row produces. Each row becomes one record holding all its
events, so the pipeline takes a row whole or quarantines it whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from collector.errors import InputError
from collector.sources.csvevents import RowError, RowMapper
from collector.sources.csvrows import Dialect, Row, read_header, read_rows
from collector.sources.csvspec import Mapping, load_mapping
from collector.sources.record import Record


class MappedCsvReader:
    """Reads CSV/TSV rows into records of canonical events, as a mapping says."""

    def __init__(self, mapping: Mapping, source: str = "mapping") -> None:
        self.mapping = mapping
        self.source = source  # the mapping's file, named in errors about it
        self.dialect = Dialect(mapping.delimiter, mapping.quote)

    @classmethod
    def from_file(cls, path: Path) -> MappedCsvReader:
        """Load and check a YAML mapping; InputError names the key when it is wrong."""
        return cls(load_mapping(path), str(path))

    def records(
        self, path: Path, offset: int = 0, line: int = 0, *, complete_only: bool = False
    ) -> Iterator[Record]:
        header = self._header(path, complete_only=complete_only)
        if header is None:
            return
        columns, header_end, header_line = header
        mapper = RowMapper(self.mapping, columns)
        start, number = (offset, line) if offset >= header_end else (header_end, header_line)
        for row in read_rows(path, self.dialect, start, number, complete_only=complete_only):
            yield _record(mapper, row)

    def _header(self, path: Path, *, complete_only: bool) -> tuple[list[str], int, int] | None:
        """The column names, and the offset and line where the data begins."""
        if not self.mapping.header:
            assert self.mapping.columns is not None
            return list(self.mapping.columns), 0, 0
        # Read from the start even when resuming: the names are only in the first row.
        row = read_header(path, self.dialect, complete_only=complete_only)
        if row is None:
            return None
        if row.error is not None:
            raise InputError(f"{path}: cannot read the header row: {row.error}")
        columns = [name.strip() for name in row.fields]
        columns[0] = columns[0].removeprefix("\ufeff")
        self._check(path, columns)
        return columns, row.end, row.line

    def _check(self, path: Path, columns: list[str]) -> None:
        twice = sorted(name for name, n in Counter(columns).items() if n > 1)
        if twice:
            raise InputError(f"{path}: the header names {', '.join(map(repr, twice))} twice")
        have = set(columns)
        for name in self.mapping.columns or ():
            if name not in have:
                raise InputError(
                    f"{self.source}: `columns` lists {name!r}; {path} has no such column"
                )
        for name in self.mapping.constants:
            if name in have:
                raise InputError(
                    f"{self.source}: `constants.{name}` has the name of a column of {path}"
                )
        for name, key in self.mapping.references().items():
            if name not in have:
                shown = ", ".join(columns)
                raise InputError(
                    f"{self.source}: `{key}` names column {name!r}, which {path} does not have "
                    f"(its columns: {shown})"
                )


def _record(mapper: RowMapper, row: Row) -> Record:
    if row.error is not None:
        return Record(row.line, row.end, row.text, error=row.error)
    try:
        items = mapper.events(row.fields)
    except RowError as exc:
        return Record(row.line, row.end, row.text, error=_where(row) + str(exc))
    return Record(row.line, row.end, row.text, items=list(items))


def _where(row: Row) -> str:
    # The pipeline positions a record at its last line; say where a multi-line row began.
    return f"(row of lines {row.first}-{row.line}) " if row.first != row.line else ""
