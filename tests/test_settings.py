"""One settings object, parsed once, loud on a bad value, every setting documented."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from collector.errors import ConfigError
from collector.settings import Settings, load_settings, settings_reference
from tests.conftest import REPO


def test_it_documents_every_setting_with_its_default():
    documented = (REPO / "docs" / "configuration.md").read_text()
    assert settings_reference() in documented, "run: touchmetrics config reference"
    for key, field in Settings.model_fields.items():
        assert field.description, f"setting {key} has no description"


def test_it_reads_yaml_with_the_environment_over_it(tmp_path: Path):
    config = tmp_path / "c.yaml"
    config.write_text("database_url: sqlite:///a.db\ningest_batch_size: 10\n")
    settings = load_settings(config, env={"TOUCHMETRICS_INGEST_BATCH_SIZE": "20"})
    assert (settings.database_url, settings.ingest_batch_size) == ("sqlite:///a.db", 20)


def test_it_reads_a_secret_from_the_file_a_variable_names(tmp_path: Path):
    secret = tmp_path / "url"
    secret.write_text("postgresql+psycopg://tm:pw@db/tm\n")
    settings = load_settings(env={"TOUCHMETRICS_DATABASE_URL_FILE": str(secret)})
    assert settings.database_url == "postgresql+psycopg://tm:pw@db/tm"


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("channels: {Chat: {kind: human}}", "channels"),
        ("channels: {chat: {kind: robot}}", "channels.chat.kind"),
        ("ingest_batch_size: 0", "ingest_batch_size"),
        ("default_timezone: Mars/Olympus", "default_timezone"),
        ("response_buckets: [5, 1]", "response_buckets"),
        ("databse_url: x", "databse_url"),
    ],
)
def test_it_stops_on_a_bad_value_naming_the_key(tmp_path: Path, yaml_text: str, key: str):
    config = tmp_path / "c.yaml"
    config.write_text(yaml_text + "\n")
    with pytest.raises(ConfigError, match=f"`{key}`"):
        load_settings(config, env={})


def test_it_refuses_a_configuration_that_is_not_a_mapping(tmp_path: Path):
    config = tmp_path / "c.yaml"
    config.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(config, env={})


@pytest.mark.parametrize(
    ("yaml_text", "says"),
    [
        ("databse_url: x", "`databse_url`: unknown key; did you mean `database_url`?"),
        (
            "channels: {chat: {knd: human}}",
            "`channels.chat.knd`: unknown key; did you mean `kind`?",
        ),
        (
            "channels: {chat: {kind: human}}\n"
            "objectives: {o: {indicator: csat, min: 0.5, windw: 1h}}",
            "`objectives.o.windw`: unknown key; did you mean `window`?",
        ),
    ],
)
def test_a_typo_in_a_key_gets_a_did_you_mean(tmp_path: Path, yaml_text: str, says: str):
    config = tmp_path / "c.yaml"
    config.write_text(yaml_text + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert says in str(caught.value)


def test_a_yaml_error_names_the_file_and_the_line(tmp_path: Path):
    config = tmp_path / "broken.yaml"
    config.write_text("channels:\n  chat: {kind: human\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert str(config) in str(caught.value)
    assert "<unicode string>" not in str(caught.value)
    assert "line 3" in str(caught.value)


def test_a_bad_config_variable_is_reported_under_its_name(tmp_path: Path):
    from click.testing import CliRunner

    from collector.cli import main

    missing = tmp_path / "nope.yaml"
    result = CliRunner().invoke(
        main, ["report", "--format", "json"], env={"TOUCHMETRICS_CONFIG": str(missing)}
    )
    assert result.exit_code == 2
    assert f"TOUCHMETRICS_CONFIG: cannot read configuration {missing}" in result.output
    assert "--config" not in result.output


def test_every_way_of_giving_the_same_buckets_counts_them_in_the_same_layout(tmp_path, monkeypatch):
    from collector.cli.common import load
    from collector.rollup import Layout
    from collector.settings import DEFAULT_RESPONSE_BUCKETS

    as_ints = tmp_path / "ints.yaml"
    as_ints.write_text(yaml.safe_dump({"response_buckets": list(DEFAULT_RESPONSE_BUCKETS)}))
    as_floats = tmp_path / "floats.yaml"
    as_floats.write_text(
        yaml.safe_dump({"response_buckets": [float(b) for b in DEFAULT_RESPONSE_BUCKETS]})
    )
    from_env = {"TOUCHMETRICS_RESPONSE_BUCKETS": ",".join(map(str, DEFAULT_RESPONSE_BUCKETS))}
    for name in [n for n in os.environ if n.startswith("TOUCHMETRICS_")]:
        monkeypatch.delenv(name)
    ways = [
        load_settings(env={}),  # the defaults, as `ingest` reads them
        load(None, {"http_port": 0, "http_host": "127.0.0.1"}),  # as `serve --port --host`
        load_settings(as_ints, env={}),
        load_settings(as_floats, env={}),
        load_settings(env=from_env),
    ]
    assert len({Layout(settings).fingerprint for settings in ways}) == 1
