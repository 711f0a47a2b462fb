"""`touchmetrics demo generate`: a realistic synthetic log, seeded and reproducible."""

from __future__ import annotations

import json
import math

import yaml
from click.testing import CliRunner

from collector.cli import main
from collector.demo import DemoSpec, generate
from collector.schema import Validator
from tests.conftest import CHANNELS


def lines(seed: int, conversations: int = 400) -> list[str]:
    return list(generate(DemoSpec(seed=seed), conversations=conversations))


def test_it_writes_the_same_bytes_for_the_same_seed_and_others_for_another():
    assert lines(7) == lines(7)
    assert lines(7) != lines(8)


def test_it_writes_valid_events_of_ai_and_human_channels(offline_settings):
    validator = Validator(offline_settings)
    events = [json.loads(line) for line in lines(3)]
    for event in events:
        validator.validate(event)  # raises on any invalid event
    channels = {e["channel"] for e in events if "channel" in e}
    assert channels == {"bot-chat", "voice-bot", "chat", "phone", "email"}


def test_it_has_handoffs_abandonment_reopens_late_ratings_and_internal_notes():
    events = [json.loads(line) for line in lines(5, conversations=2000)]
    types = {e["type"] for e in events}
    assert {"handoff", "abandoned", "reopened", "csat", "resolved"} <= types
    assert any(e.get("public") is False for e in events)
    assert any(e.get("author") == "system" for e in events)
    resolved = {e["conversation_id"]: e["timestamp"] for e in events if e["type"] == "resolved"}
    late = [
        e
        for e in events
        if e["type"] == "csat" and e["timestamp"] > resolved.get(e["conversation_id"], "")
    ]
    assert late, "ratings come after the resolution"


def test_it_draws_reply_times_from_a_lognormal_distribution(offline_settings, tmp_path):
    path = tmp_path / "demo.jsonl"
    path.write_text("".join(lines(11, conversations=3000)))
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"channels": CHANNELS}))
    result = CliRunner().invoke(
        main, ["report", "--config", str(config), "--format", "json", str(path)]
    )
    bot = next(g for g in json.loads(result.stdout)["groups"] if g["channel"] == "bot-chat")
    replies = bot["response_seconds"]
    # the bot replies with a median of 1.5 s and a long right tail
    assert math.isclose(replies["p50"], 1.5, rel_tol=0.1)
    assert replies["mean"] > replies["p50"]
    assert replies["p99"] > 2 * replies["p50"]


def test_it_generates_at_least_the_events_asked_for():
    produced = list(generate(DemoSpec(seed=2), min_events=5000))
    assert 5000 <= len(produced) < 5050


def test_it_writes_a_file_from_the_command_line(tmp_path):
    out = tmp_path / "demo.jsonl"
    result = CliRunner().invoke(
        main, ["demo", "generate", "--conversations", "50", "--seed", "4", "-o", str(out)]
    )
    assert result.exit_code == 0
    assert out.read_text().splitlines() == [
        line.rstrip("\n") for line in lines(4, conversations=50)
    ]


def bot_resolution_rate(offline_settings, tmp_path, *options: str) -> float:
    path = tmp_path / "demo.jsonl"
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"channels": CHANNELS}))
    runner = CliRunner()
    generate = ["demo", "generate", "--conversations", "3000", "-o", str(path), *options]
    assert runner.invoke(main, generate).exit_code == 0
    result = runner.invoke(main, ["report", "--config", str(config), "--format", "json", str(path)])
    bot = next(g for g in json.loads(result.stdout)["groups"] if g["channel"] == "bot-chat")
    return bot["resolution_rate"]["value"]


def test_containment_makes_a_bot_that_resolves_less_and_the_default_is_unchanged(
    offline_settings, tmp_path
):
    usual = bot_resolution_rate(offline_settings, tmp_path)
    worse = bot_resolution_rate(offline_settings, tmp_path, "--containment", "0.3")
    assert 0.52 < usual < 0.62  # about 55 %, plus reopened conversations resolved again
    assert 0.27 < worse < 0.36
    refused = CliRunner().invoke(main, ["demo", "generate", "--containment", "0.95"])
    assert refused.exit_code == 2
    assert "0.95 is not in the range 0<=x<=0.9" in refused.stderr
