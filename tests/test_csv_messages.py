"""Message-level exports through a mapping: id templates, transforms, skip_when, threads."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from collector.errors import InputError
from collector.sources.csvmap import MappedCsvReader
from collector.sources.csvspec import parse_mapping
from collector.sources.csvvalues import slug
from collector.sources.record import Record

HEADER = "post_id,in_reply_to,account,inbound,created_at\n"
# A customer's post, the brand's reply, the customer's answer to it, the brand's last word.
THREAD = [
    "100,,Acme Help,True,2026-11-02T10:00:00Z\n",
    "101,100.0,Acme Help,False,2026-11-02T10:05:00Z\n",
    "102,101.0,Acme Help,True,2026-11-02T10:07:00Z\n",
    "103,102.0,Acme Help,False,2026-11-02T10:08:00Z\n",
]

MESSAGES: dict[str, Any] = {
    "transforms": {
        "in_reply_to": {"column": "in_reply_to", "strip_suffix": ".0"},
        "team": {"column": "account", "slug": True},
    },
    "threads": {"message": "post_id", "parent": "in_reply_to"},
    "conversation_id": "t-{thread}",
    "attributes": {"account": "account"},
    "skip_when": [{"when": {"post_id": "post_id"}, "reason": "a header row, repeated"}],
    "events": [
        {"type": "conversation_started", "name": "start", "id": "{post_id}:start",
         "at": "created_at", "channel": "{team}", "kind": "human",
         "when": {"in_reply_to": None}},
        {"type": "message", "name": "customer", "id": "{post_id}", "author": "customer",
         "at": "created_at", "when": {"inbound": "True"}},
        {"type": "message", "name": "reply", "id": "{post_id}", "author": "agent",
         "at": "created_at", "when": {"inbound": "False"}},
    ],
}  # fmt: skip


def with_changes(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MESSAGES)
    data.update(changes)
    return data


def read(tmp_path: Path, rows: list[str], mapping: dict[str, Any] | None = None) -> list[Record]:
    data = tmp_path / "messages.csv"
    data.write_text(HEADER + "".join(rows))
    return list(MappedCsvReader(parse_mapping(mapping or MESSAGES)).records(data))


def conversations(records: list[Record]) -> dict[str, str]:
    """Each event id with its conversation."""
    found = {}
    for record in records:
        assert record.error is None, record.error
        found.update({item["id"]: item["conversation_id"] for item in record.items})
    return found


# -- ids and conditions per row ---------------------------------------------------------------


def test_it_makes_one_event_per_message_with_the_id_its_template_gives(tmp_path):
    first, reply = read(tmp_path, THREAD[:2])
    assert [(e["id"], e["type"], e.get("author")) for e in first.items] == [
        ("100:start", "conversation_started", None),
        ("100", "message", "customer"),
    ]
    assert reply.items == [
        {"id": "101", "conversation_id": "t-100", "type": "message", "author": "agent",
         "timestamp": "2026-11-02T10:05:00Z", "attributes": {"account": "Acme Help"}},
    ]  # fmt: skip


def test_it_quarantines_a_row_whose_id_template_meets_a_null(tmp_path):
    mapping = with_changes()
    mapping["events"][2]["id"] = "{post_id}-{in_reply_to}"
    mapping["events"][2]["when"] = {"inbound": "False", "post_id": {"not": None}}
    records = read(tmp_path, ["101,,Acme Help,False,2026-11-02T10:05:00Z\n"], mapping)
    assert records[0].error == ("column `in_reply_to`: null, but `id` needs it (event `reply`)")


# -- threads ----------------------------------------------------------------------------------


def test_it_puts_a_reply_to_a_reply_to_a_post_in_the_posts_conversation(tmp_path):
    found = conversations(read(tmp_path, THREAD))
    assert set(found.values()) == {"t-100"} and len(found) == 5


def test_it_threads_the_same_whatever_the_order_of_the_rows(tmp_path):
    newest_first = conversations(read(tmp_path, THREAD[::-1]))
    assert newest_first == conversations(read(tmp_path, THREAD))


def test_it_names_a_thread_whose_first_post_is_missing_after_the_message_answered(tmp_path):
    rows = [
        "201,200.0,Acme Help,False,2026-11-02T10:05:00Z\n",  # 200 is not in the export
        "202,201.0,Acme Help,True,2026-11-02T10:06:00Z\n",
        "203,200.0,Acme Help,False,2026-11-02T10:09:00Z\n",
    ]
    assert set(conversations(read(tmp_path, rows)).values()) == {"t-200"}


def test_it_refuses_replies_that_loop_naming_the_loop(tmp_path):
    rows = [
        "301,302.0,Acme Help,True,2026-11-02T10:05:00Z\n",
        "302,301.0,Acme Help,False,2026-11-02T10:06:00Z\n",
        *THREAD[:1],
    ]
    first, second, fine = read(tmp_path, rows)
    assert first.error is not None and "the replies loop (301 -> 302" in first.error
    assert second.error is not None and "a thread needs a first post" in second.error
    assert fine.error is None


def test_it_refuses_a_file_with_more_replies_than_the_bound_before_reading_a_row(tmp_path):
    bounded = {"message": "post_id", "parent": "in_reply_to", "max_replies": 2}
    mapping = with_changes(threads=bounded)
    with pytest.raises(InputError, match=r"more than 2 replies; `threads.max_replies` bounds"):
        read(tmp_path, THREAD, mapping)


def test_it_threads_rows_read_after_a_resume_from_the_whole_file(tmp_path):
    data = tmp_path / "messages.csv"
    data.write_text(HEADER + "".join(THREAD))
    reader = MappedCsvReader(parse_mapping(MESSAGES))
    _first, second, *_ = reader.records(data)
    resumed = list(reader.records(data, second.end, second.line))
    assert [r.line for r in resumed] == [4, 5]
    assert set(conversations(resumed).values()) == {"t-100"}


def test_it_tells_a_mapping_using_thread_without_threads_what_is_missing(tmp_path):
    mapping = with_changes()
    del mapping["threads"]
    with pytest.raises(InputError, match=r"`\{thread\}` needs a `threads` section"):
        read(tmp_path, THREAD, mapping)


# -- transforms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Solid Waste", "solid-waste"), ("AppleSupport", "applesupport"),
     ("  Café / Bar--42 ", "cafe-bar-42"), ("!!!", "")],
)  # fmt: skip
def test_a_slug_is_lowercase_ascii_letters_and_digits_joined_by_dashes(text, expected):
    assert slug(text) == expected


def test_it_names_channels_from_a_lookup_with_a_default_and_from_slugs(tmp_path):
    mapping = with_changes()
    mapping["transforms"]["team"] = {
        "column": "account",
        "lookup": {"Acme Help": "acme-care", "12": "twelve"},
        "default": "social",
    }
    rows = [THREAD[0], "500,,Someone Else,True,2026-11-02T11:00:00Z\n"]
    known, other = read(tmp_path, rows, mapping)
    assert (known.items[0]["channel"], other.items[0]["channel"]) == ("acme-care", "social")
    mapping["transforms"]["team"] = {"column": "account", "lookup": {"Acme Help": "A"}}
    mapping["transforms"]["team"]["slug"] = True  # a value the lookup lacks goes on as it is
    known, other = read(tmp_path, rows, mapping)
    assert (known.items[0]["channel"], other.items[0]["channel"]) == ("a", "someone-else")


def test_it_uses_transformed_values_in_ids_attributes_and_conditions(tmp_path):
    mapping = with_changes()
    mapping["transforms"]["who"] = {"column": "inbound", "lowercase": True}
    mapping["attributes"] = {"account": "team"}
    mapping["events"][1]["when"] = {"who": "true"}
    mapping["events"][1]["id"] = "{post_id}-{who}"
    [record] = read(tmp_path, THREAD[:1], mapping)
    assert [e["id"] for e in record.items] == ["100:start", "100-true"]
    assert record.items[1]["attributes"] == {"account": "acme-help"}


@pytest.mark.parametrize(
    ("transforms", "message"),
    [({"t": {"column": "account", "default": "x"}}, "`default` is for values a `lookup` lacks"),
     ({"t": {"column": "account", "lookup": {"yes": True}}}, "quote yes/no/true/false"),
     ({"t": {"column": "account", "strip_suffix": ""}}, "suffixes must be non-empty text"),
     ({"t": {"column": "u"}, "u": {"column": "account"}}, "reads 'u', a later transform"),
     ({"thread": {"column": "account"}}, "`thread` is the value `threads` gives"),
     ({"t": {"column": "account", "upper": True}}, "`transforms.t.upper`: Extra inputs")],
)  # fmt: skip
def test_it_refuses_a_wrong_transform_naming_it(transforms, message):
    with pytest.raises(InputError) as caught:
        parse_mapping(with_changes(transforms=transforms))
    assert message in str(caught.value)


def test_it_refuses_a_transform_named_like_a_column_it_does_not_replace(tmp_path):
    mapping = with_changes()
    mapping["transforms"]["inbound"] = {"column": "account"}
    with pytest.raises(InputError, match=r"`transforms.inbound` has the name of a column"):
        read(tmp_path, THREAD, mapping)


# -- rows that are not events -----------------------------------------------------------------


def test_it_skips_rows_that_are_not_events_with_the_rules_reason(tmp_path):
    rows = [THREAD[0], HEADER, THREAD[1]]
    first, header, reply = read(tmp_path, rows)
    assert (header.line, header.skipped, header.items, header.error) == (
        3, "a header row, repeated", [], None,
    )  # fmt: skip
    assert first.error is None and reply.error is None


def test_mapping_check_shows_what_rows_become_without_importing(cli, tmp_path):
    mapping = tmp_path / "messages.yaml"
    mapping.write_text(yaml.safe_dump(MESSAGES))
    data = tmp_path / "messages.csv"
    data.write_text(HEADER + THREAD[0] + HEADER + "101,100.0,Acme Help,False,soon\n")
    result = cli("mapping", "check", mapping, data)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "line 2: 2 events"
    assert result.stdout.splitlines()[3:] == [
        "line 3: skipped: a header row, repeated",
        "line 4: rejected: column `created_at`: 'soon' does not match time format 'iso' "
        "(event `reply`)",
    ]
