"""One settings object, parsed once, loud on a bad value, every setting documented."""

from __future__ import annotations

from pathlib import Path

import pytest

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
