"""Hostile input over real HTTP on loopback, on SQLite and PostgreSQL (issue 7: 1, 2, 15, 16).

Every case sends good events beside the bad ones: the bad ones are quarantined with a reason
that names the field and the rule, the good ones are stored, and every record sent is
accounted for (accepted + duplicates + rejected), in the answer and in the stored totals.
"""

from __future__ import annotations

import gzip

import orjson
import pytest

from tests.hostile import (
    JSON,
    NDJSON,
    NUL_CASES,
    TIMESTAMPS_IN,
    TIMESTAMPS_OUT,
    accounted,
    attributes,
    good,
    ndjson,
    nested,
    with_field,
)

EVENTS = "/api/v1/events"
NOTHING = {"accepted": 0, "duplicates": 0, "rejected": 0}


def test_it_quarantines_a_nul_in_any_string_and_stores_the_rest(live):
    bad = list(NUL_CASES.values())
    answer = live.http.post(EVENTS, json=[good(0), *bad, good(99)])
    assert answer.status_code == 200
    result = answer.json()
    assert result["accepted"] == 2
    assert accounted(result) == len(bad) + 2
    fields = ["`id`", "`conversation_id`", "`channel`", "`attributes.topic`", "`attributes`",
              "`note`", "`extra.deep[1]`"]  # fmt: skip
    for rejected, field in zip(result["rejected"], fields, strict=True):
        assert field in rejected["error"]
        assert "NUL (U+0000)" in rejected["error"]
    assert [r["index"] for r in result["rejected"]] == list(range(1, len(bad) + 1))
    assert live.store.event_counts() == {"accepted": 2, "duplicates": 0, "rejected": len(bad)}
    assert len(live.store.quarantined()) == len(bad)


def test_it_quarantines_an_ndjson_line_with_a_raw_nul_byte_and_stores_the_rest(live):
    line = b'{"id": "x\x00", "conversation_id": "c", "type": "resolved", "timestamp": 0}'
    answer = live.http.post(EVENTS, content=ndjson([good(0), line, good(2)]), headers=NDJSON)
    assert answer.status_code == 200
    result = answer.json()
    assert (result["accepted"], accounted(result)) == (2, 3)
    (rejected,) = result["rejected"]
    assert rejected["index"] == 1
    assert rejected["error"] == "a NUL byte (U+0000) at line 2, column 10: no input may contain NUL"
    # PostgreSQL text cannot hold U+0000: the quarantine keeps it written as a JSON escape.
    (row,) = live.store.quarantined()
    assert row.raw == line.decode().replace("\x00", "\\u0000")
    assert live.store.event_counts() == {"accepted": 2, "duplicates": 0, "rejected": 1}


def test_it_quarantines_an_ndjson_line_of_invalid_utf8_with_its_line(live):
    line = b'{"id": "caf\xe9", "conversation_id": "c", "type": "resolved", "timestamp": 0}'
    answer = live.http.post(EVENTS, content=ndjson([good(0), good(1), line]), headers=NDJSON)
    assert answer.status_code == 200
    result = answer.json()
    assert (result["accepted"], accounted(result)) == (2, 3)
    (rejected,) = result["rejected"]
    assert rejected["index"] == 2
    assert rejected["error"] == "invalid UTF-8 at line 3, column 12 (byte 0xe9)"
    (row,) = live.store.quarantined()
    assert row.raw == line.decode("utf-8", "backslashreplace")  # each invalid byte as \xe9


def test_it_takes_a_record_nested_1000_deep_and_refuses_one_hiding_a_nul_there(live):
    deep = with_field(good(1), "extra", nested(1000, '"x"'))
    poisoned = with_field(good(2), "extra", nested(1000, '"\\u0000"'))
    body = f"[{orjson.dumps(good(0)).decode()}, {deep}, {poisoned}]"
    answer = live.http.post(EVENTS, content=body.encode(), headers=JSON)
    assert answer.status_code == 200
    result = answer.json()
    assert (result["accepted"], accounted(result)) == (2, 3)
    (rejected,) = result["rejected"]
    assert rejected["index"] == 2
    assert rejected["error"].startswith("field `extra[0][0][0]")
    assert "must not contain NUL (U+0000)" in rejected["error"]
    assert len(rejected["error"]) < 400
    # The quarantine keeps the whole record as it was sent (compact JSON, as orjson writes).
    (row,) = live.store.quarantined()
    assert row.raw == poisoned
    assert live.store.event_counts() == {"accepted": 2, "duplicates": 0, "rejected": 1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'[{"id": "a"},\n {"id": "caf\xe9"}]', "invalid UTF-8 at line 2, column 13"),
        (b'[{"id": "a"},\n {"id": "x\x00"}]', "a NUL byte (U+0000) at line 2, column 11"),
    ],
)
def test_it_refuses_a_json_array_holding_invalid_utf8_or_a_nul_byte_whole(live, body, message):
    answer = live.http.post(EVENTS, content=body, headers=JSON)
    assert answer.status_code == 400
    assert message in answer.json()["error"]
    assert live.store.event_counts() == NOTHING


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (orjson.dumps([good(0)]).decode().encode("utf-16"), "UTF-16"),
        (orjson.dumps([good(0)]).decode().encode("utf-16-le"), "UTF-16"),
        (orjson.dumps([good(0)]).decode().encode("utf-16-be"), "UTF-16"),
        (ndjson([good(0), good(1)]).decode().encode("utf-16-le"), "UTF-16"),
        (orjson.dumps([good(0)]).decode().encode("utf-32"), "UTF-32"),
        (gzip.compress(orjson.dumps([good(0)])), "gzip"),
    ],
    ids=["utf16-bom", "utf16-le", "utf16-be", "utf16-ndjson", "utf32", "gzip"],
)
def test_it_answers_415_to_a_body_that_is_not_utf8_text(live, body, message):
    answer = live.http.post(EVENTS, content=body, headers=JSON)
    assert answer.status_code == 415
    assert message in answer.json()["error"]
    assert "send UTF-8" in answer.json()["error"]
    assert live.store.event_counts() == NOTHING


@pytest.mark.parametrize(
    ("body", "events"),
    [
        (b"\xef\xbb\xbf" + orjson.dumps([good(0), good(1)]), 2),
        (b"\xef\xbb\xbf" + orjson.dumps(good(0)), 1),
        (orjson.dumps(good(0), option=orjson.OPT_INDENT_2), 1),
        (b"\r\n  " + orjson.dumps(good(0), option=orjson.OPT_INDENT_2) + b"\r\n", 1),
    ],
    ids=["bom-array", "bom-object", "pretty-object", "crlf-object"],
)
def test_it_accepts_a_bom_a_single_object_and_pretty_printed_json(live, body, events):
    answer = live.http.post(EVENTS, content=body, headers=JSON)
    assert answer.status_code == 200
    assert answer.json() == {"accepted": events, "duplicates": 0, "rejected": []}
    assert live.store.event_counts() == {"accepted": events, "duplicates": 0, "rejected": 0}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{\n  "id": "e1",\n  "type": \n}\n', "line 4, column 1"),
        (b'{\n  "id": "e1"\n  "type": "resolved"\n}', "line 3, column 3"),
        (b"hello world\n", "line 1, column 1"),
        (b"42\n43\n", "line 2, column 1"),
        (b'"one string"', "the body is one JSON string"),
        (b"\xef\xbb\xbf\xef\xbb\xbf[]", "line 1, column 1"),
    ],
    ids=["pretty-truncated", "pretty-no-comma", "text", "numbers", "string", "bom2"],
)
def test_it_answers_400_with_line_and_column_to_a_body_of_no_known_shape(live, body, where):
    answer = live.http.post(EVENTS, content=body, headers=JSON)
    assert answer.status_code == 400
    assert where in answer.json()["error"]
    assert live.store.event_counts() == NOTHING  # no fragment counted as a rejected record


def test_it_numbers_ndjson_rejections_by_line_with_line_and_column(live):
    lines = [b"not json", good(0), b"", b'{"id": }', {**good(1), "author": 1}, b"  [1, 2]"]
    answer = live.http.post(EVENTS, content=b"\n" + ndjson(lines), headers=NDJSON)
    result = answer.json()
    assert (result["accepted"], accounted(result)) == (1, 5)
    text, broken, wrong, array = result["rejected"]
    assert text["index"] == 1  # the 2nd line: index i is line i + 1, blank lines counted
    assert text["error"] == "invalid JSON: invalid literal, expected 'null' at line 2, column 1"
    assert broken["index"] == 4
    assert broken["error"].startswith("invalid JSON: ")
    assert broken["error"].endswith(" at line 5, column 8")
    assert (wrong["index"], wrong["id"]) == (5, "good-1")
    assert wrong["error"].startswith("field `author`")
    assert (array["index"], array["error"]) == (6, "field `(record)`: must be a JSON object")


def test_it_keeps_timestamps_to_one_range_in_every_form(live):
    events = [good(0)] + [{**good(1), "id": f"t{i}", "timestamp": t}
                          for i, t in enumerate(TIMESTAMPS_OUT + TIMESTAMPS_IN)]  # fmt: skip
    answer = live.http.post(EVENTS, json=events)
    assert answer.status_code == 200
    result = answer.json()
    assert result["accepted"] == 1 + len(TIMESTAMPS_IN)
    assert accounted(result) == len(events)
    assert [r["index"] for r in result["rejected"]] == list(range(1, len(TIMESTAMPS_OUT) + 1))
    for rejected in result["rejected"]:
        assert rejected["error"].startswith("field `timestamp`: out of range: ")
        assert "[1970-01-01T00:00:00Z, 9999-12-31T23:59:59Z]" in rejected["error"]
    # The extreme instants that were accepted are shown and reported without a fault.
    assert live.http.get("/metrics").status_code == 200
    assert live.http.get("/api/v1/summary").status_code == 200
    assert live.http.get("/").status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+23:59",
        "1969-12-31T23:59:59Z",
        "2026-11-01T10:00:00\x00Z",
    ],
)
@pytest.mark.parametrize("name", ["from", "to"])
def test_it_answers_400_naming_a_summary_bound_out_of_range(live, name, value):
    answer = live.http.get("/api/v1/summary", params={name: value})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(f"`{name}`: ")


@pytest.mark.parametrize(
    ("shape", "error"),
    [
        ({"keys": 33}, "field `attributes`: at most 32 keys (got 33)"),
        ({"key_length": 65}, "field `attributes`: a key of at most 64 characters (got '00000"),
        ({"value_length": 1025}, "field `attributes.00000`: at most 1024 characters (got 1025)"),
    ],
)
def test_it_rejects_attributes_over_their_limits(live, shape, error):
    over = {**good(1), "attributes": attributes(**shape)}
    at_limits = {**good(2), "attributes": attributes(32, 64, 1024)}
    answer = live.http.post(EVENTS, json=[good(0), over, at_limits])
    result = answer.json()
    assert (result["accepted"], accounted(result)) == (2, 3)
    (rejected,) = result["rejected"]
    assert rejected["index"] == 1
    assert rejected["error"].startswith(error)


def test_it_does_not_echo_an_id_over_128_characters_back_in_the_answer(live):
    huge = {**good(1), "id": "x" * 1_000_000}
    answer = live.http.post(EVENTS, json=[good(0), huge, {**good(2), "id": 5}])
    assert len(answer.content) < 1000  # the answer does not grow with the bad value
    result = answer.json()
    assert result["accepted"] == 1
    assert [(r["index"], r["id"]) for r in result["rejected"]] == [(1, None), (2, None)]
    assert result["rejected"][0]["error"] == "field `id`: must be a string of 1 to 128 characters"


@pytest.mark.parametrize("field", ["type", "channel", "author", "timestamp", "kind"])
def test_it_quotes_at_most_200_characters_of_a_huge_bad_value(live, field):
    huge = "x" * 1_000_000
    event = {**good(1), "type": "message", "author": "customer", field: huge}
    answer = live.http.post(EVENTS, json=[good(0), event])
    result = answer.json()
    assert (result["accepted"], accounted(result)) == (1, 2)
    (rejected,) = result["rejected"]
    assert f"field `{field}`" in rejected["error"]
    assert len(rejected["error"]) < 400
    assert "x" * 200 in rejected["error"]
    (row,) = live.store.quarantined()
    assert len(row.reason) < 400
    assert huge in row.raw  # the record itself is kept whole for a replay
