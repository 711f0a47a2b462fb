"""Strict validation of the canonical event: every rule names its field."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.errors import InvalidEvent
from collector.schema import Validator
from collector.settings import parse_settings
from tests.conftest import CHANNELS

OK = {
    "conversation_id": "c1",
    "type": "conversation_started",
    "timestamp": "2026-11-01T10:00:00Z",
    "channel": "chat",
}


@pytest.fixture
def validator(offline_settings):
    return Validator(offline_settings)


def reject(validator, **changes):
    record = {**OK, **changes}
    record = {k: v for k, v in record.items() if v is not ...}
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(record)
    return caught.value


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2026-11-01T10:00:00Z", 1_793_527_200_000_000),
        ("2026-11-01T12:00:00+02:00", 1_793_527_200_000_000),
        ("2026-11-01t10:00:00.250z", 1_793_527_200_250_000),
        ("2026-11-01 10:00:00.123456+00:00", 1_793_527_200_123_456),
        (1_793_527_200, 1_793_527_200_000_000),
        (1_793_527_200.5, 1_793_527_200_500_000),
    ],
)
def test_it_reads_rfc3339_with_offset_and_unix_seconds(validator, text, micros):
    assert validator.validate({**OK, "timestamp": text}).ts == micros


def test_it_rejects_a_naive_timestamp(validator):
    error = reject(validator, timestamp="2026-11-01T10:00:00")
    assert error.field == "timestamp"
    assert "needs an offset or Z" in error.rule


def test_it_reads_a_naive_timestamp_in_the_configured_zone():
    settings = parse_settings({"channels": CHANNELS, "default_timezone": "Europe/Paris"})
    event = Validator(settings).validate({**OK, "timestamp": "2026-11-01T11:00:00"})
    assert event.ts == 1_793_527_200_000_000


@pytest.mark.parametrize(
    "value", ["yesterday", "2026-11-01", "2026-13-01T00:00:00Z", True, None, [1], -5]
)
def test_it_rejects_a_timestamp_that_is_not_one(validator, value):
    assert reject(validator, timestamp=value).field == "timestamp"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"type": "closed"}, "type", "must be one of conversation_started"),
        ({"type": ...}, "type", "missing"),
        ({"conversation_id": ...}, "conversation_id", "required"),
        ({"conversation_id": ""}, "conversation_id", "1 to 128"),
        ({"conversation_id": "x" * 129}, "conversation_id", "1 to 128"),
        ({"id": 7}, "id", "string"),
        ({"channel": ...}, "channel", "required on conversation_started"),
        ({"channel": "Chat"}, "channel", "must match"),
        ({"channel": "new-bot"}, "kind", "not declared"),
        ({"kind": "human", "channel": "bot-chat"}, "kind", "declared ai, not human"),
        ({"kind": "robot"}, "kind", "must be one of ai, human"),
        ({"type": "message"}, "author", "required on a message"),
        ({"type": "message", "author": "bot"}, "author", "must be one of"),
        ({"public": "yes"}, "public", "true or false"),
        ({"type": "csat"}, "score", "required on csat"),
        ({"type": "csat", "score": 6}, "score", "from 1 to 5"),
        ({"type": "csat", "score": 3.0}, "score", "integer"),
        ({"type": "csat", "score": 3, "scale": 3.0}, "scale", "one of 2, 3, 5, 7, 10"),
        ({"type": "csat", "score": 3, "scale": 4}, "scale", "one of 2, 3, 5, 7, 10"),
        ({"type": "handoff", "channel": ...}, "channel", "(the target)"),
        ({"attributes": ["topic"]}, "attributes", "object of string to string"),
        ({"attributes": {"topic": 3}}, "attributes.topic", "must be a string"),
    ],
)
def test_it_names_the_field_and_the_rule_it_breaks(validator, changes, field, words):
    error = reject(validator, **changes)
    assert error.field == field
    assert words in error.rule
    assert str(error).startswith(f"field `{field}`: ")


@pytest.mark.parametrize("field", ["type", "author", "kind", "channel", "conversation_id", "id"])
@pytest.mark.parametrize("value", [[], {}, ["chat"], {"a": 1}])
def test_it_rejects_an_array_or_object_where_text_belongs(validator, field, value):
    # unhashable values once crashed the import with a TypeError instead of a rejection
    record = {**OK, "type": "message", "author": "customer", field: value}
    with pytest.raises(InvalidEvent) as caught:
        validator.validate(record)
    assert caught.value.field == field


def test_it_rejects_a_record_that_is_not_an_object(validator):
    with pytest.raises(InvalidEvent, match=r"field `\(record\)`: must be a JSON object"):
        validator.validate([1, 2])


def test_it_accepts_an_undeclared_channel_that_names_its_kind(validator):
    event = validator.validate({**OK, "channel": "whatsapp-bot", "kind": "ai"})
    assert (event.channel, event.kind) == ("whatsapp-bot", "ai")


def test_it_takes_a_declared_channels_kind_from_the_configuration(validator):
    assert validator.validate(OK).kind == "human"


def test_it_derives_the_same_id_from_the_same_content_however_it_is_written(validator):
    a = validator.validate({**OK, "timestamp": "2026-11-01T10:00:00Z", "extra": 1})
    b = validator.validate({**OK, "timestamp": "2026-11-01T11:00:00+01:00"})
    c = validator.validate({**OK, "timestamp": "2026-11-01T10:00:01Z"})
    assert a.id == b.id != c.id
    assert len(a.id) == 32


def test_it_keeps_an_explicit_id_and_hashes_the_content_beside_it(validator):
    a = validator.validate({**OK, "id": "e-1"})
    b = validator.validate({**OK, "id": "e-1", "attributes": {"topic": "billing"}})
    assert a.id == b.id == "e-1"
    assert a.content_hash != b.content_hash


@given(
    moments=st.lists(
        st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
        min_size=1,
        max_size=30,
    ),
    precision=st.sampled_from(["seconds", "milliseconds", "microseconds"]),
    zone=st.sampled_from(["Z", "z", "+00:00", "+05:30", "-08:00"]),
)
def test_it_reads_every_timestamp_as_the_full_parser_does_however_often_seen(
    moments, precision, zone
):
    # a warm validator answers repeated minutes and seconds from memory; it must never differ
    validator = Validator(parse_settings({"channels": CHANNELS}))
    for moment in moments * 2:
        text = moment.isoformat(timespec=precision) + zone
        assert validator.timestamp(text) == validator._parsed(text)
    assert validator.timestamp("2026-11-01T10:00:00Z") == 1_793_527_200_000_000
    with pytest.raises(InvalidEvent):
        validator.timestamp("2026-02-30T10:00:00Z")  # a valid minute's shape, an invalid day


EDGES = st.one_of(
    st.datetimes(),
    st.datetimes(min_value=datetime(1969, 12, 30), max_value=datetime(1970, 1, 2)),
    st.datetimes(min_value=datetime(9999, 12, 30), max_value=datetime(9999, 12, 31, 23, 59, 59)),
)


@given(moment=EDGES, offset=st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1))
def test_it_accepts_a_timestamp_exactly_when_its_instant_is_in_range(moment, offset):
    # DESIGN section 2: [1970-01-01T00:00:00Z, 9999-12-31T23:59:59Z] once the offset is applied
    sign, minutes = ("+" if offset >= 0 else "-"), abs(offset)
    zone = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    text = moment.isoformat(timespec="microseconds") + zone
    micros = (moment - datetime(1970, 1, 1)) // timedelta(microseconds=1) - offset * 60_000_000
    validator = Validator(parse_settings({"channels": CHANNELS}))
    if 0 <= micros <= 253_402_300_799_000_000:
        assert validator.timestamp(text) == micros
    else:
        with pytest.raises(InvalidEvent, match="out of range"):
            validator.timestamp(text)


def test_it_never_passes_the_end_of_the_range_from_remembered_parts(validator):
    # a remembered minute plus remembered seconds must not add up past 9999-12-31T23:59:59Z
    assert validator.timestamp("2026-11-01T10:00:59.500Z") == 1_793_527_259_500_000
    assert validator.timestamp("9999-12-31T23:59:00Z") == 253_402_300_740_000_000
    assert validator.timestamp("9999-12-31T23:59:59Z") == 253_402_300_799_000_000
    with pytest.raises(InvalidEvent, match="out of range"):
        validator.timestamp("9999-12-31T23:59:59.500Z")


@pytest.mark.parametrize(
    ("value", "accepted"),
    [(0, True), (253_402_300_799, True), (253_402_300_799.5, False), (253_402_300_799.999, False)],
)
def test_it_keeps_unix_seconds_to_the_same_range(validator, value, accepted):
    if accepted:
        assert validator.timestamp(value) == value * 1_000_000
    else:
        with pytest.raises(InvalidEvent, match="out of range"):
            validator.timestamp(value)
