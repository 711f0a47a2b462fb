"""Hostile requests and hostile configuration, over real HTTP on loopback: who may write,
and what a database URL may reveal."""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml
from sqlalchemy.engine import make_url

from collector.errors import ConfigError
from collector.server import check_bind
from collector.settings import load_settings, parse_settings
from tests.conftest import CHANNELS, TOUCHMETRICS, Service, require

TOKEN = "a-long-random-token-for-tests"  # 29 characters


def run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A `touchmetrics` command run to its end (30 s at most), its output captured."""
    environment = {**os.environ, **(env or {})}
    environment.pop("TOUCHMETRICS_CONFIG", None)
    return subprocess.run(
        [*TOUCHMETRICS, *args], capture_output=True, text=True, timeout=30, env=environment
    )


# Item 12: no empty token, no short token on a public address.


@pytest.mark.parametrize("tokens", [[""], ["   "], [TOKEN, " \t"], ""], ids=repr)
def test_it_refuses_an_empty_or_blank_token_naming_tokens(tokens):
    with pytest.raises(ConfigError, match=r"`tokens`: .*(empty|no token)"):
        parse_settings({"tokens": tokens})


def test_it_refuses_an_empty_tokens_file(tmp_path):
    secret = tmp_path / "token"
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="`tokens`"):
        load_settings(env={"TOUCHMETRICS_TOKENS_FILE": str(secret)})


def test_serve_exits_2_on_an_empty_token_instead_of_letting_an_empty_bearer_write(tmp_path):
    config = tmp_path / "touchmetrics.yaml"
    config.write_text(
        yaml.safe_dump({"database_url": f"sqlite:///{tmp_path}/x.db", "tokens": [""]})
    )
    result = run_cli(["serve", "--port", "0", "--config", str(config)])
    assert result.returncode == 2
    assert "`tokens`" in result.stderr
    assert "Traceback" not in result.stderr


def test_it_refuses_a_token_under_16_characters_on_a_non_loopback_address(tmp_path):
    config = tmp_path / "touchmetrics.yaml"
    settings = {"database_url": f"sqlite:///{tmp_path}/x.db", "tokens": [TOKEN, "sh0rt-t0ken"]}
    config.write_text(yaml.safe_dump(settings))
    # 192.0.2.10 is a documentation address: the refusal comes before any bind.
    result = run_cli(["serve", "--host", "192.0.2.10", "--port", "0", "--config", str(config)])
    assert result.returncode == 2
    assert "`tokens`: 1 of 2 shorter than 16 characters" in result.stderr
    assert "sh0rt-t0ken" not in result.stderr
    check_bind(parse_settings({"http_host": "192.0.2.10", "tokens": ["x" * 16]}))
    check_bind(parse_settings({"http_host": "127.0.0.1", "tokens": ["short"]}))  # loopback


# Item 17: a database URL reveals no password, and a malformed one is a configuration error.

PASSWORD = "p@ss-W0rd-q9"  # an @ that nobody escaped


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--port", "0"],
        ["db", "upgrade"],
        ["report"],
        ["quarantine", "list"],
        ["scheduler"],
    ],
    ids=" ".join,
)
def test_it_shows_no_part_of_a_password_with_an_unescaped_at(command):
    url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:5432/test"
    result = run_cli(command, {"TOUCHMETRICS_DATABASE_URL": url})
    assert result.returncode == 2
    output = result.stdout + result.stderr
    assert "`database_url`: an unescaped @ in the password" in output
    for part in ("ss-W0rd", "W0rd", "q9@"):
        assert part not in output


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql+psycopg://u:s3cret-pw@127.0.0.1:port/db", "the port is not a number"),
        (
            "postgresql+psycopg://u:s3cret-pw@127.0.0.1:99999/db",
            "the port is not between 1 and 65535",
        ),
        ("nosuchdb://u:s3cret-pw@127.0.0.1/db", "unknown database dialect 'nosuchdb'"),
        (
            "postgresql+asyncpg://u:s3cret-pw@127.0.0.1/db",
            "the driver of 'postgresql+asyncpg' is not",
        ),
        ("not a url", "not a database URL"),
    ],
    ids=["port", "port-range", "dialect", "driver", "shape"],
)
@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["db", "upgrade"]], ids=" ".join)
def test_it_exits_2_naming_database_url_for_a_malformed_url(url, problem, command):
    result = run_cli(command, {"TOUCHMETRICS_DATABASE_URL": url})
    assert result.returncode == 2
    assert f"`database_url`: {problem}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_it_ingests_naming_database_url_for_a_malformed_url(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")
    url = "postgresql+psycopg://u:s3cret-pw@127.0.0.1:port/db"
    result = run_cli(["ingest", str(events)], {"TOUCHMETRICS_DATABASE_URL": url})
    assert result.returncode == 2
    assert "`database_url`" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_serve_banner_hides_an_escaped_password(tmp_path, postgres_server_url):
    require(postgres_server_url is not None, "no PostgreSQL server")
    assert postgres_server_url is not None
    # The test server trusts loopback, so any password connects.
    url = make_url(postgres_server_url).set(password="B4nner-s3cret@x")
    config = tmp_path / "touchmetrics.yaml"
    written = url.render_as_string(hide_password=False)
    assert "B4nner-s3cret%40x" in written  # the @ escaped, as it must be
    config.write_text(yaml.safe_dump({"channels": CHANNELS, "database_url": written}))
    service = Service(["--config", str(config), "--no-scheduler"])
    code, err = service.stop()
    assert code == 0
    assert ":***@" in service.banner
    assert "B4nner" not in service.banner + err
