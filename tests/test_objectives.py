"""Objectives as DESIGN section 11 writes them: every field, its default, loud validation."""

from __future__ import annotations

from typing import Any

import pytest

from collector.errors import ConfigError
from collector.objectives import parse_duration
from collector.settings import parse_settings
from tests.conftest import CHANNELS

SECTION_11 = {
    "bot-containment": {
        "title": "The web assistant resolves most conversations itself",
        "indicator": "resolution_rate",
        "channels": ["bot-chat"],
        "min": 0.60,
    },
    "human-first-response": {
        "indicator": "first_response",
        "kind": "human",
        "within_seconds": 120,
        "min": 0.90,
    },
    "bot-escalations": {
        "indicator": "escalation_rate",
        "kind": "ai",
        "by": "kind",
        "max": 0.35,
        "severity": "critical",
    },
    "csat": {"indicator": "csat", "min": 0.80, "window": "1d", "min_events": 50},
}


def objectives(**entries: Any) -> dict[str, Any]:
    return {"channels": CHANNELS, "objectives": entries}


def test_it_reads_the_objectives_of_the_design_with_their_defaults():
    parsed = parse_settings({"channels": CHANNELS, "objectives": SECTION_11}).objectives
    assert list(parsed) == list(SECTION_11)
    containment = parsed["bot-containment"]
    assert (containment.name, containment.channels, containment.min) == (
        "bot-containment", ("bot-chat",), 0.6,
    )  # fmt: skip
    assert (containment.by, containment.window, containment.for_) == ("channel", "1h", "5m")
    assert (containment.min_events, containment.tolerance) == (20, 0.05)
    assert (containment.severity, containment.notify) == ("warning", ())
    assert parsed["csat"].display_title == "csat"
    assert parsed["csat"].window_seconds == 86400
    assert parsed["bot-escalations"].bound == {"max": 0.35}
    assert parsed["human-first-response"].within_seconds == 120


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"indicator": "happiness", "min": 0.5}, "objectives.o.indicator"),
        ({"indicator": "csat", "min": 0.5, "max": 0.9}, "exactly one of `min` and `max`"),
        ({"indicator": "csat"}, "exactly one of `min` and `max`"),
        ({"indicator": "csat", "min": 1.5}, "objectives.o.min"),
        ({"indicator": "csat", "min": 0.5, "within_seconds": 60}, "applies to durations"),
        ({"indicator": "response", "min": 0.5}, "`within_seconds` is required"),
        ({"indicator": "csat", "min": 0.5, "channels": ["nope"]}, "'nope' is not a declared"),
        ({"indicator": "csat", "min": 0.5, "channels": ["chat"], "kind": "ai"}, "not both"),
        ({"indicator": "csat", "min": 0.5, "window": "an hour"}, "objectives.o.window"),
        ({"indicator": "csat", "min": 0.5, "window": "0m"}, "longer than zero"),
        # Prometheus takes each unit once, largest first: `30m1h` would break the rules.
        ({"indicator": "csat", "min": 0.5, "window": "30m1h"}, "objectives.o.window"),
        ({"indicator": "csat", "min": 0.5, "window": "1h1h"}, "objectives.o.window"),
        ({"indicator": "csat", "min": 0.5, "for": "30s5m"}, "objectives.o.for"),
        # An infinite threshold would be a second +Inf bucket of the histogram.
        (
            {"indicator": "response", "min": 0.5, "within_seconds": float("inf")},
            "objectives.o.within_seconds",
        ),
        ({"indicator": "csat", "min": 0.5, "for": "soon"}, "objectives.o.for"),
        ({"indicator": "csat", "min": 0.5, "by": "team"}, "objectives.o.by"),
        ({"indicator": "csat", "min": 0.5, "severity": "page"}, "objectives.o.severity"),
        ({"indicator": "csat", "min": 0.5, "treshold": 1}, "objectives.o.treshold"),
    ],
)
def test_a_bad_objective_stops_the_start_naming_the_objective_and_the_field(
    entry: dict[str, Any], says: str
):
    with pytest.raises(ConfigError) as caught:
        parse_settings(objectives(o=entry))
    message = str(caught.value)
    assert says in message
    assert "`o`" in message or "objectives.o" in message


def test_an_objective_name_must_be_a_metric_label_value():
    with pytest.raises(ConfigError, match="must match"):
        parse_settings(objectives(**{"Bot Containment": {"indicator": "csat", "min": 0.5}}))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("1h", 3600), ("1h30m", 5400), ("7d", 604800), ("0s", 0), ("90s", 90),
     ("1d12h", 129600), ("1m500ms", 60.5)],
)  # fmt: skip
def test_windows_are_written_as_prometheus_durations(text: str, seconds: float):
    assert parse_duration(text) == seconds


def test_each_within_seconds_becomes_a_bucket_bound_of_its_own_histogram():
    settings = parse_settings(
        objectives(
            fast={"indicator": "first_response", "within_seconds": 45, "min": 0.9},
            solved={"indicator": "resolution", "within_seconds": 7200, "min": 0.5},
        )
    )
    assert 45.0 in settings.histogram_bounds("first_response")
    assert 45.0 not in settings.histogram_bounds("response")
    assert 7200.0 in settings.histogram_bounds("resolution")
    configured = tuple(float(b) for b in settings.response_buckets)
    assert settings.histogram_bounds("response") == configured


def test_with_mail_on_an_objective_nobody_would_hear_about_stops_the_start():
    mail = {"smtp_host": "smtp.example.org"}
    with pytest.raises(ConfigError) as caught:
        parse_settings({**objectives(o={"indicator": "csat", "min": 0.5}), **mail})
    assert "objective `o`: field `notify`: no recipients" in str(caught.value)
    told = objectives(o={"indicator": "csat", "min": 0.5, "notify": ["a@x.org"]})
    assert parse_settings({**told, **mail}).objectives["o"].notify == ("a@x.org",)
    everyone = {**objectives(o={"indicator": "csat", "min": 0.5}), "alert_email_to": ["b@x.org"]}
    assert parse_settings({**everyone, **mail}).alert_email_to == ("b@x.org",)
    assert parse_settings({**objectives(o={"indicator": "csat", "min": 0.5})}).smtp_host is None
