"""Values as users have them, made into values the events need: a mapping's `transforms`.

A transform reads one column (or a constant, or an earlier transform) and gives a value
under its own name, usable wherever a column is: in templates (`channel`, `id`,
`conversation_id`), `attributes`, conditions and `threads`. Giving it the name of the
column it reads changes that column for every use. The steps run in a fixed order:

1. ``strip_suffix``: the first of these suffixes the value ends with is cut off once
   (``"1234.0"`` -> ``"1234"``, what pandas writes for a column of ids with a gap);
2. ``lookup``: a value found in the table is replaced by its entry; one not found by
   ``default`` when given, else it goes on unchanged;
3. ``lowercase``; then ``slug``: lowercase ASCII letters and digits with single dashes
   (``"Solid Waste"`` -> ``"solid-waste"``, ``"AppleSupport"`` -> ``"applesupport"``).

A null value stays null, and a value left empty by the steps is null.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class Transform(BaseModel):
    """One derived value: its source and the steps applied to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1)
    strip_suffix: tuple[str, ...] = ()
    lookup: dict[str, str] = Field(default_factory=dict)
    default: str | None = None
    lowercase: bool = False
    slug: bool = False

    @field_validator("strip_suffix", mode="before")
    @classmethod
    def _suffixes(cls, value: Any) -> Any:
        suffixes = [value] if isinstance(value, str) else value
        if isinstance(suffixes, list) and not all(isinstance(s, str) and s for s in suffixes):
            raise ValueError('suffixes must be non-empty text (quote ".0")')
        return suffixes

    @field_validator("lookup", mode="before")
    @classmethod
    def _table(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        for key, entry in value.items():
            for item in (key, entry):
                if isinstance(item, bool) or not isinstance(item, str | int | float):
                    raise ValueError(
                        f"entry {key!r}: keys and values must be text or numbers "
                        "(quote yes/no/true/false)"
                    )
        return {str(key): str(entry) for key, entry in value.items()}

    @field_validator("default", mode="before")
    @classmethod
    def _default_text(cls, value: Any) -> Any:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return str(value) if number else value

    @model_validator(mode="after")
    def _default_needs_lookup(self) -> Transform:
        if self.default is not None and not self.lookup:
            raise ValueError("`default` is for values a `lookup` lacks: give the `lookup`")
        return self

    def apply(self, value: str | None) -> str | None:
        """The derived value of ``value``, by the steps in their order."""
        if value is None:
            return None
        for suffix in self.strip_suffix:
            if value.endswith(suffix):
                value = value[: -len(suffix)]
                break
        if self.lookup:
            found = self.lookup.get(value)
            if found is None:
                found = value if self.default is None else self.default
            value = found
        if self.lowercase:
            value = value.lower()
        if self.slug:
            value = slug(value)
        return value or None


def slug(text: str) -> str:
    """Lowercase ASCII letters and digits, joined by dashes: "Solid Waste" -> "solid-waste"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
