"""CSV/TSV exports read through a declarative YAML mapping, one row per conversation or
one row per message.

The mapping (``collector.sources.csvspec``) says how to split the file, which values mean
"absent", how to read times, how to derive values, how to build the conversation id (and
follow reply threads), which rows to skip or quarantine and which canonical events each
row produces. Each row becomes one record holding all its events, so the pipeline takes a
row whole or quarantines it whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from collector.errors import InputError
from collector.sources.csvevents import RowMapper
from collector.sources.csvrowerror import RowError
from collector.sources.csvrows import Dialect, Row, read_header, read_rows
from collector.sources.csvspec import THREAD, Mapping, load_mapping
from collector.sources.csvthreads import ThreadIndex
from collector.sources.record import Record


class MappedCsvReader:
    """Reads CSV/TSV rows into records of canonical events, as a mapping says."""

    # One import must not make one event id from two rows with different content: the
    # pipeline keeps a ledger of the ids made (collector.ledger).
    ledger = True
    unit = "row"

    def __init__(
        self, mapping: Mapping, source: str = "mapping", fallback_zone: str | None = None
    ) -> None:
        self.mapping = mapping
        self.source = source  # the mapping's file, named in errors about it
        self.fallback_zone = fallback_zone  # the configuration's default_timezone
        self.dialect = Dialect(mapping.delimiter, mapping.quote)
        # Checkpoints are kept per file and mapping: another mapping reads the file anew.
        self.key = f"mapping:{mapping.fingerprint()}"

    @classmethod
    def from_file(cls, path: Path, fallback_zone: str | None = None) -> MappedCsvReader:
        """Load and check a YAML mapping; InputError names the key when it is wrong."""
        return cls(load_mapping(path), str(path), fallback_zone)

    def records(
        self, path: Path, offset: int = 0, line: int = 0, *, complete_only: bool = False
    ) -> Iterator[Record]:
        header = self._header(path, complete_only=complete_only)
        if header is None:
            return
        columns, header_end, header_line = header
        mapper = RowMapper(self.mapping, columns, self.fallback_zone)
        until = None
        if self.mapping.threads is not None:
            mapper.threads, until = self._threads(
                path, mapper, header_end, header_line, complete_only=complete_only
            )
        start, number = (offset, line) if offset >= header_end else (header_end, header_line)
        for row in read_rows(path, self.dialect, start, number, complete_only=complete_only):
            if until is not None and row.end > until:
                return  # written after the first pass: threaded by the next import
            yield _record(mapper, row)

    def _threads(
        self, path: Path, mapper: RowMapper, start: int, line: int, *, complete_only: bool
    ) -> tuple[ThreadIndex, int]:
        """The first pass: every reply's parent, and the offset the pass read up to (the
        second pass stops there, so a row written in between waits for the next import)."""
        assert self.mapping.threads is not None
        index = ThreadIndex(self.mapping.threads)
        end = start
        for row in read_rows(path, self.dialect, start, line, complete_only=complete_only):
            end = row.end
            if row.error is not None:
                continue
            try:
                values = mapper.values(row.fields)
            except RowError:
                continue  # quarantined in the second pass
            if mapper.skipped(values) is None:
                index.add(values, f"{path}")
        return index, end

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
        for name in sorted(self.mapping.derived() & have):
            raise InputError(
                f"{self.source}: {_derived_key(self.mapping, name)} has the name of a column "
                f"of {path}: name it otherwise"
            )
        for name, key in self.mapping.references().items():
            if name not in have:
                shown = ", ".join(columns)
                hint = " (`{thread}` needs a `threads` section)" if name == THREAD else ""
                raise InputError(
                    f"{self.source}: `{key}` names column {name!r}, which {path} does not have "
                    f"(its columns: {shown}){hint}"
                )


def _derived_key(mapping: Mapping, name: str) -> str:
    if name in mapping.constants:
        return f"`constants.{name}`"
    return f"`transforms.{name}`" if name in mapping.transforms else f"`{{{THREAD}}}` of `threads`"


def _record(mapper: RowMapper, row: Row) -> Record:
    if row.error is not None:
        return Record(row.line, row.end, row.text, error=row.error)
    try:
        values = mapper.values(row.fields)
        skipped = mapper.skipped(values)
        if skipped is not None:
            return Record(row.line, row.end, row.text, skipped=skipped)
        items = mapper.events(values)
    except RowError as exc:
        return Record(row.line, row.end, row.text, error=_where(row) + str(exc))
    return Record(row.line, row.end, row.text, items=items)


def _where(row: Row) -> str:
    # The pipeline positions a record at its last line; say where a multi-line row began.
    return f"(row of lines {row.first}-{row.line}) " if row.first != row.line else ""
