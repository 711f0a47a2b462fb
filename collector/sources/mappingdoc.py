"""The reference of every mapping key, for docs/mapping.md (``touchmetrics mapping reference``).

Each key of the mapping model (collector.sources.csvspec) has its meaning and an example
here; the test suite walks the model and fails when a key lacks one, when one is
documented that the model does not have, or when an example does not parse.
An example is a fragment of a mapping's top level, complete for the keys it shows.
"""

from __future__ import annotations

from typing import Any, NamedTuple, get_args, get_origin

import orjson
from pydantic import BaseModel

from collector.sources.csvspec import Mapping


class KeyDoc(NamedTuple):
    key: str
    meaning: str
    example: str  # YAML: keys of a mapping's top level


_START = "{type: conversation_started, at: opened, channel: chat}"

KEYS = [
    KeyDoc("format", "`csv` (comma-separated) or `tsv` (tab-separated).", "format: tsv"),
    KeyDoc("quote", "The quoting character of fields; `null` when quotes are plain text.",
           "quote: null"),
    KeyDoc("header", "Whether the first row names the columns. Without one, give `columns`.",
           "header: false\ncolumns: [ticket, opened]"),
    KeyDoc("columns", "The column names, in order, of a file without a header row; with a "
           "header, the columns it must have.", "columns: [ticket, opened, closed]"),
    KeyDoc("nulls", "Values that mean \"absent\" in every column (surrounding spaces are "
           "trimmed first).", 'nulls: ["", "-", "NULL"]'),
    KeyDoc("column_nulls", "More values meaning \"absent\", for one column each.",
           'column_nulls: {closed: ["0:00:00"]}'),
    KeyDoc("timestamps", "How the time columns are written.",
           'timestamps: {format: "%d/%m/%Y %H:%M", timezone: Europe/Paris}'),
    KeyDoc("timestamps.format", "`iso` (ISO 8601), `unix` (seconds since 1970) or a "
           "[strptime](https://docs.python.org/3/library/datetime.html#format-codes) pattern.",
           'timestamps: {format: "%a %b %d %H:%M:%S %z %Y"}'),
    KeyDoc("timestamps.timezone", "The IANA zone of times written without an offset. Without "
           "it, the configuration's `default_timezone` serves; with neither, such a row is "
           "rejected, pointing here.", "timestamps: {timezone: America/Chicago}"),
    KeyDoc("timestamps.date", "For time-of-day columns: the column holding their date.",
           'timestamps: {format: "%H:%M:%S", date: {column: day, format: "%y%m%d"}}'),
    KeyDoc("timestamps.date.column", "The column of the date.",
           'timestamps: {format: "%H:%M:%S", date: {column: day}}'),
    KeyDoc("timestamps.date.format", "How the date is written (strptime).",
           'timestamps: {format: "%H:%M:%S", date: {column: day, format: "%d.%m.%Y"}}'),
    KeyDoc("timestamps.rollover", "Times of day past midnight: a time more than "
           "`tolerance_seconds` before `reference` is on the next day.",
           'timestamps:\n  format: "%H:%M:%S"\n  date: {column: day}\n'
           "  rollover: {reference: opened, tolerance_seconds: 43200}"),
    KeyDoc("timestamps.rollover.reference", "The column of the row's first time.",
           'timestamps: {format: "%H:%M:%S", date: {column: day}, rollover: {reference: opened}}'),
    KeyDoc("timestamps.rollover.tolerance_seconds", "How far before `reference` a time may "
           "be and still be on its day (clocks that disagree).",
           'timestamps:\n  format: "%H:%M:%S"\n  date: {column: day}\n'
           "  rollover: {reference: opened, tolerance_seconds: 600}"),
    KeyDoc("constants", "Values every row has, usable as `{name}` and in `attributes`.",
           "constants: {site: paris}\nconversation_id: \"{site}-{ticket}\""),
    KeyDoc("transforms", "Values derived from a column, usable wherever a column is: in "
           "templates, `attributes`, conditions and `threads`. A transform named like the "
           "column it reads replaces that column. Steps run in the order of the keys below.",
           "transforms:\n  queue: {column: department, slug: true}\n"
           "  ticket: {column: ticket, strip_suffix: \".0\"}"),
    KeyDoc("transforms.<name>.column", "The column (or constant, or earlier transform) read.",
           "transforms: {team: {column: assigned_group}}"),
    KeyDoc("transforms.<name>.strip_suffix", "A suffix (or a list) cut off once, the first "
           "that matches: what pandas writes as `1234.0` for ids in a column with gaps.",
           'transforms: {parent: {column: in_reply_to, strip_suffix: ".0"}}'),
    KeyDoc("transforms.<name>.lookup", "A table of value -> value (a channel name, say). A "
           "value not in it becomes `default` when given, else goes on unchanged.",
           "transforms:\n  channel:\n    column: account\n"
           "    lookup: {AcmeHelp: acme-help, BoltAssist: bolt-assistant}\n"
           "    default: social"),
    KeyDoc("transforms.<name>.default", "The value for one the `lookup` lacks.",
           "transforms: {channel: {column: queue, lookup: {Q1: phone}, default: other}}"),
    KeyDoc("transforms.<name>.lowercase", "Lowercase the value.",
           "transforms: {who: {column: author_type, lowercase: true}}"),
    KeyDoc("transforms.<name>.slug", "Lowercase ASCII letters and digits joined by dashes, "
           "a valid channel name: `Solid Waste` -> `solid-waste`.",
           "transforms: {channel: {column: department, slug: true}}"),
    KeyDoc("threads", "Reply threads (one row per message): every row's conversation is its "
           "thread's first post, found by following the parent column up, whatever the order "
           "of the rows. Gives `{thread}`, the first post's id. A parent missing from the file "
           "names the conversation of the replies to it.",
           "threads: {message: post_id, parent: in_reply_to}\nconversation_id: \"{thread}\""),
    KeyDoc("threads.message", "The column of each row's message id.",
           "threads: {message: tweet_id, parent: in_response_to_tweet_id}"),
    KeyDoc("threads.parent", "The column of the id of the message a row answers; null on a "
           "thread's first post.", "threads: {message: comment_id, parent: reply_to}"),
    KeyDoc("threads.max_replies", "Bounds the memory of following threads (about 140 bytes a "
           "reply): a file with more replies is refused before anything is imported.",
           "threads: {message: post_id, parent: in_reply_to, max_replies: 5000000}"),
    KeyDoc("conversation_id", "The template of the conversation id: `{column}` placeholders "
           "(columns, constants, transforms, `{thread}`), at least one.",
           'conversation_id: "{queue}-{ticket}"'),
    KeyDoc("attributes", "Event attributes from columns: `attribute: column`. `topic` is the "
           "one reports group by.", "attributes: {topic: category, team: queue}"),
    KeyDoc("skip_when", "Rows that are not events, counted as skipped with the reason (not "
           "quarantined): a header repeated mid-file, a row type the mapping does not cover.",
           "skip_when:\n  - when: {ticket: ticket}\n    reason: a header row, repeated"),
    KeyDoc("skip_when[].when", "The conditions (see `events[].when`).",
           "skip_when: [{when: {status: Duplicate}, reason: a duplicate of another request}]"),
    KeyDoc("skip_when[].reason", "Why such rows are not events, as the summary counts them.",
           "skip_when: [{when: {type: note}, reason: internal notes are not messages}]"),
    KeyDoc("reject_when", "Rows that are quarantined with the reason.",
           "reject_when:\n  - when: {outcome: PHANTOM}\n    reason: a virtual call"),
    KeyDoc("reject_when[].when", "The conditions (see `events[].when`).",
           "reject_when: [{when: {closed: null, status: Closed}, reason: closed without a date}]"),
    KeyDoc("reject_when[].reason", "The reason quarantined rows carry.",
           "reject_when: [{when: {channel: test}, reason: test traffic}]"),
    KeyDoc("events", "The events a row may make, each made when its `when` holds. A row "
           "that makes none is rejected.",
           "events:\n  - " + _START + "\n  - {type: resolved, at: closed, "
           "when: {closed: {not: null}}}"),
    KeyDoc("events[].type", "`conversation_started`, `message`, `handoff`, `resolved`, "
           "`reopened`, `abandoned` or `csat`.", "events: [{type: abandoned, at: hung_up}]"),
    KeyDoc("events[].name", "Names the event in errors, in `not_before` and in the default "
           "id; the type by default. Two events of one type need names.",
           "events:\n  - {type: message, name: first-reply, author: agent, at: replied}\n"
           "  - {type: message, name: last-reply, author: agent, at: last_replied}"),
    KeyDoc("events[].at", "The event's time: a column, or a list (the first that is not "
           "null), or one of `first`, `earliest`, `latest` with more.",
           "events: [{type: resolved, at: [closed, last_update]}]"),
    KeyDoc("events[].at.first", "The first of these columns that is not null.",
           "events: [{type: resolved, at: {first: [closed, updated]}}]"),
    KeyDoc("events[].at.earliest", "The earliest of these columns' times.",
           "events: [{type: message, author: agent, at: {earliest: [called_back, mailed]}}]"),
    KeyDoc("events[].at.latest", "The latest of these columns' times.",
           "events: [{type: resolved, at: {latest: [closed, last_reply]}}]"),
    KeyDoc("events[].at.minus_column", "A column of seconds taken off the time.",
           "events: [{type: handoff, channel: agents, at: {first: [q_exit], "
           "minus_column: q_time}}]"),
    KeyDoc("events[].at.plus_seconds", "Seconds added to the time.",
           "events: [{type: message, author: system, at: {first: [opened], plus_seconds: 1}}]"),
    KeyDoc("events[].when", "Conditions on the row: `column: value`, `column: [one, of]`, "
           "`column: null`, `column: {not: ...}`; several columns must all hold; a list of "
           "such mappings holds when any does.",
           "events:\n  - {type: message, name: asked, author: customer, at: sent, "
           "when: {inbound: \"True\"}}\n"
           "  - {type: message, name: answered, author: agent, at: sent, "
           "when: [{inbound: \"False\"}, {sender: {not: null}}]}"),
    KeyDoc("events[].id", "The template of the event id. By default "
           "`<conversation id>:<name>`, one per row and name: give one per message (`{post_id}`) "
           "when a conversation has many rows. One import making one id from two rows with "
           "other content rejects the second, naming both.",
           'events: [{type: message, author: agent, at: sent, id: "{message_id}"}]'),
    KeyDoc("events[].channel", "The channel (a template): required on `conversation_started` "
           "and `handoff`.", 'events: [{type: handoff, at: escalated, channel: "{queue}"}]'),
    KeyDoc("events[].kind", "`ai` or `human`, for a channel the configuration does not "
           "declare.", 'events: [{type: conversation_started, at: opened, channel: "{queue}", '
           "kind: human}]"),
    KeyDoc("events[].author", "`customer`, `agent` or `system`; required on `message`.",
           "events: [{type: message, author: system, at: acknowledged}]"),
    KeyDoc("events[].public", "`false` marks an internal note.",
           "events: [{type: message, author: agent, at: noted, public: false}]"),
    KeyDoc("events[].score", "The column of a `csat` event's score (an integer).",
           "events: [{type: csat, at: rated, score: rating, when: {rating: {not: null}}}]"),
    KeyDoc("events[].scale", "The score's scale: 2, 3, 5, 7 or 10 (5 by default).",
           "events: [{type: csat, at: rated, score: thumbs, scale: 2}]"),
    KeyDoc("events[].not_before", "Earlier events (by name) this one is never placed before, "
           "in the same row: a close stamped a second before the last reply.",
           "events:\n  - {type: message, name: reply, author: agent, at: replied}\n"
           "  - {type: resolved, at: closed, not_before: [reply]}"),
]  # fmt: skip


def model_keys(model: type[BaseModel] = Mapping, prefix: str = "") -> list[str]:
    """Every key a mapping may hold, dotted as KEYS writes them, in the model's order."""
    found: list[str] = []
    for name, info in model.model_fields.items():
        key = prefix + name
        found.append(key)
        inner, suffix = _nested(info.annotation)
        if inner is not None:
            found += model_keys(inner, key + suffix)
    return found


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The model a field holds and how its keys are written below it ('.', '[].', ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, "."
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is tuple and args and _is_model(args[0]):
        return args[0], "[]."
    if origin is dict and len(args) == 2 and _is_model(args[1]):
        return args[1], ".<name>."
    models = [a for a in args if _is_model(a)]  # X | None
    return (models[0], ".") if models else (None, "")


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def mapping_reference() -> str:
    """The Markdown section of docs/mapping.md listing every key."""
    defaults = _defaults()
    lines: list[str] = []
    for doc in KEYS:
        default = defaults.get(doc.key)
        shown = f" Default: `{default}`." if default is not None else ""
        lines += [f"### `{doc.key}`", "", doc.meaning + shown, "", "```yaml", doc.example, "```"]
        lines.append("")
    return "\n".join(lines)


def _shown(value: Any) -> str | None:
    """A default as YAML writes it; None for none (null, or an empty collection)."""
    if value is None or (isinstance(value, tuple | frozenset | dict) and not value):
        return None
    if isinstance(value, frozenset):
        value = sorted(value)
    return orjson.dumps(value).decode() if not isinstance(value, str) else value


def _defaults(model: type[BaseModel] = Mapping, prefix: str = "") -> dict[str, str]:
    found: dict[str, str] = {}
    for name, info in model.model_fields.items():
        key = prefix + name
        if not info.is_required() and info.default_factory is None:
            shown = _shown(info.default)
            if shown is not None:
                found[key] = shown
        inner, suffix = _nested(info.annotation)
        if inner is not None:
            found.update(_defaults(inner, key + suffix))
    return found
