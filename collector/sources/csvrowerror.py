"""Why a row of a mapped CSV cannot become events, and filling templates from its values."""

from __future__ import annotations

from typing import Any

from collector.sources.csvspec import PLACEHOLDER

Values = dict[str, str | None]


class RowError(Exception):
    """Why a row cannot become events; the message names the column and the rule."""


def column_error(column: str, rule: str) -> RowError:
    return RowError(f"column `{column}`: {rule}")


def fill(template: str, values: Values, key: str) -> str:
    """Put column values into ``{column}`` placeholders; a null one is an error."""

    def value(match: Any) -> str:
        found = values[match.group(1)]
        if found is None:
            raise column_error(match.group(1), f"null, but `{key}` needs it")
        return found

    return PLACEHOLDER.sub(value, template)
