"""The one settings object, parsed once at start from YAML and TOUCHMETRICS_* variables.

Every field carries its documentation in ``description``; ``docs/configuration.md`` is
generated from it (``touchmetrics config reference``) and a test fails when they drift.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from collector.errors import ConfigError, TouchmetricsError
from collector.objectives import Objective, named_objectives
from collector.schema import CHANNEL_NAME

ENV_PREFIX = "TOUCHMETRICS_"
DEFAULT_RESPONSE_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400, 86400)
DEFAULT_RESOLUTION_BUCKETS = (60, 300, 900, 1800, 3600, 14400, 28800, 86400, 259200, 604800)
Kind = Literal["ai", "human"]
YAML_ONLY = ("channels", "chatwoot", "objectives")  # structured settings with no environment form


class ChannelSpec(BaseModel):
    """One declared channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind = Field(description="`ai` (a bot handles it) or `human` (people handle it).")
    title: str | None = Field(None, description="Display name for dashboards and mail.")


class ChatwootChannels(BaseModel):
    """Channel names that replace the defaults for one inbox or channel type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ai: str | None = Field(None, description="Channel while an agent bot holds the conversation.")
    human: str | None = Field(None, description="Channel once people hold it.")

    @field_validator("ai", "human")
    @classmethod
    def _channel_name(cls, value: str | None) -> str | None:
        return None if value is None else _checked_channel(value)


class ChatwootSettings(BaseModel):
    """How Chatwoot webhooks map to channels (POST /api/v1/webhooks/chatwoot)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ai_channel: str = Field("chatwoot-bot", description="Channel of `pending` conversations.")
    human_channel: str = Field("chatwoot-agents", description="Channel of `open` conversations.")
    inboxes: dict[int, ChatwootChannels] = Field(default_factory=dict)
    channel_types: dict[str, ChatwootChannels] = Field(default_factory=dict)
    topic_attribute: str | None = None
    account_id: int | None = None

    @field_validator("ai_channel", "human_channel")
    @classmethod
    def _channel_name(cls, value: str) -> str:
        return _checked_channel(value)


def checked_zone(value: str | None) -> str | None:
    """An IANA time zone name that zoneinfo knows, or None."""
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
    return value


def _checked_channel(value: str) -> str:
    if not CHANNEL_NAME.fullmatch(value):
        raise ValueError(f"channel name {value!r} must match {CHANNEL_NAME.pattern}")
    return value


class Settings(BaseModel):
    """Everything configurable, with its default. Immutable once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: dict[str, ChannelSpec] = Field(
        default_factory=dict,
        description="Declared channels by name: `{name: {kind: ai|human, title: ...}}`. "
        "A declared channel appears in every report and on /metrics before its first event.",
    )
    database_url: str = Field(
        "sqlite:///touchmetrics.db",
        description="SQLAlchemy URL of the store: a SQLite file (embedded default) or "
        "`postgresql+psycopg://user@host/db`. Secret: use TOUCHMETRICS_DATABASE_URL_FILE.",
    )
    database_connect_timeout_seconds: int = Field(
        5,
        ge=2,
        le=600,
        description="Longest wait for a new PostgreSQL connection, in whole seconds (libpq's "
        "minimum is 2). A pooled connection is pinged first and given up after as long.",
    )
    database_statement_timeout_seconds: float = Field(
        15.0,
        gt=0,
        le=3600,
        description="Longest a database statement may run or wait for locks: PostgreSQL's "
        "statement_timeout (lock waits count in it), and on SQLite the wait for the write "
        "lock. The service stops waiting for a server that has not answered 2 s after it, so "
        "a write to an unreachable database answers 503 instead of hanging. Schema upgrades "
        "run without it.",
    )
    default_timezone: str | None = Field(
        None,
        description="IANA zone applied to timestamps written without an offset; "
        "unset means such timestamps are rejected.",
    )
    ingest_batch_size: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Records committed per transaction on import; unset: 5000 on SQLite, "
        "10000 on PostgreSQL (where a batch's fixed costs, round trips to the server, weigh more).",
    )
    response_buckets: tuple[float, ...] = Field(
        DEFAULT_RESPONSE_BUCKETS,
        description="Histogram bucket bounds (seconds) for first-response and response times.",
    )
    resolution_buckets: tuple[float, ...] = Field(
        DEFAULT_RESOLUTION_BUCKETS,
        description="Histogram bucket bounds (seconds) for resolution times.",
    )

    http_host: str = Field(
        "127.0.0.1",
        description="Address `serve` binds. A non-loopback address needs tokens (each of 16 "
        "characters or more).",
    )
    http_port: int = Field(9480, ge=0, le=65535, description="Port `serve` listens on.")
    tokens: tuple[str, ...] = Field(
        (),
        description="Bearer tokens accepted on writes (POST); none means writes are open to "
        "clients on this machine (not to web pages of other sites), which `serve` allows on "
        "loopback only. On a non-loopback address each token needs 16 characters or more. "
        "Empty tokens are refused. Secret: use TOUCHMETRICS_TOKENS_FILE.",
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        description="Largest request body accepted; a larger one gets 413 before it is read.",
    )
    http_threads: int = Field(
        4,
        ge=1,
        le=256,
        description="Worker threads of the WSGI server (writes take turns on SQLite: 4 was "
        "faster than 8 in bench/http_ingest.py on 2 cores).",
    )
    http_probe_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Server threads kept for GET /metrics, /healthz and /readyz, apart from "
        "http_threads, so scrapes and probes never queue behind writes and reports.",
    )
    summary_concurrency: int = Field(
        2,
        ge=1,
        le=64,
        description="Most GET /api/v1/summary reports computed at once; more answer 503 with "
        "Retry-After. Each reads every fact of its window, so several at once took the "
        "server threads writes need and slowed scrapes.",
    )
    probe_timeout_seconds: float = Field(
        3.0,
        gt=0,
        le=60,
        description="How long /metrics and /readyz wait for the database (on a small pool of "
        "their own) before answering 503.",
    )
    spool_dir: str | None = Field(
        None,
        description="Folder the scheduler watches for JSON Lines files; new and grown files "
        "are imported once, their offsets kept in the database.",
    )
    spool_interval_seconds: float = Field(
        5.0, gt=0, description="How often the scheduler looks in spool_dir."
    )
    rollup_interval_seconds: float = Field(
        300.0, gt=0, description="How often the scheduler checks the totals' bucket layout."
    )

    chatwoot: ChatwootSettings = Field(
        default_factory=ChatwootSettings,
        description="Chatwoot webhook mapping: `ai_channel` (default chatwoot-bot, for "
        "`pending` conversations), `human_channel` (default chatwoot-agents, for `open`), "
        "per-inbox `inboxes: {id: {ai, human}}` and per-type `channel_types`, "
        "`topic_attribute` (a custom attribute; else the first label), `account_id`.",
    )

    objectives: dict[str, Objective] = Field(
        default_factory=dict,
        description="Objectives by name (DESIGN section 11): `{name: {indicator, channels|kind, "
        "by, min|max, within_seconds, window, for, min_events, tolerance, severity, title, "
        "notify}}`. Read by the alert mail, `touchmetrics rules`, the dashboards and "
        "`touchmetrics check`; see the README's Objectives section.",
    )
    alert_interval_seconds: float = Field(
        60.0, gt=0, description="How often the scheduler judges every objective."
    )
    alert_mail: Literal["builtin", "alertmanager", "off"] = Field(
        "builtin",
        description="Who mails about objectives: `builtin` (the scheduler, over SMTP), "
        "`alertmanager` (Prometheus rules and Alertmanager) or `off`. With `alertmanager` "
        "or `off` the scheduler still records and shows each state but queues no mail, so "
        "switching to `builtin` later sends no backlog.",
    )
    alert_email_to: tuple[str, ...] = Field(
        (), description="Default recipients of alert mail (an objective's `notify` overrides)."
    )
    public_url: str = Field(
        "http://127.0.0.1:9480",
        description="Where people reach this service; links in mail and dashboards start here.",
    )
    smtp_host: str | None = Field(
        None,
        description="SMTP server for alert mail; unset means mail is off (states are "
        "still recorded and shown).",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description="`starttls` (upgrade after connecting), `ssl` (TLS from the "
        "start, usually port 465) or `none` (plain, for a relay on loopback). The "
        "server's certificate is verified; trust a private CA with SSL_CERT_FILE.",
    )
    smtp_username: str | None = Field(None, description="SMTP login user; unset: no login.")
    smtp_password: SecretStr | None = Field(
        None,
        description="SMTP login password (shown nowhere). Secret: use "
        "TOUCHMETRICS_SMTP_PASSWORD_FILE.",
    )
    smtp_from: str = Field("touchmetrics@localhost", description="The From address of alert mail.")
    smtp_timeout_seconds: float = Field(
        10.0, gt=0, description="How long one SMTP conversation may take before it is retried."
    )

    grafana_url: str = Field(
        "http://127.0.0.1:3000",
        description="The Grafana `touchmetrics dashboards push` uploads to (`--grafana-url` "
        "overrides it).",
    )
    grafana_token: str | None = Field(
        None,
        description="A Grafana service account token (Editor) for `dashboards push`; never "
        "printed. Secret: use TOUCHMETRICS_GRAFANA_TOKEN_FILE.",
    )

    @field_validator("objectives", mode="before")
    @classmethod
    def _objective_names(cls, value: object) -> object:
        return named_objectives(value)

    @model_validator(mode="after")
    def _objective_channels(self) -> Settings:
        for name, objective in self.objectives.items():
            for channel in objective.channels or ():
                if channel not in self.channels:
                    raise ValueError(
                        f"objective `{name}`: field `channels`: {channel!r} is not a declared "
                        f"channel (declared: {', '.join(sorted(self.channels)) or 'none'})"
                    )
        return self

    @model_validator(mode="after")
    def _objective_recipients(self) -> Settings:
        # With mail on, an objective nobody would hear about is a mistake to catch at start.
        if self.alert_mail != "builtin" or self.smtp_host is None or self.alert_email_to:
            return self
        for name, objective in self.objectives.items():
            if not objective.notify:
                raise ValueError(
                    f"objective `{name}`: field `notify`: no recipients; set `notify` or "
                    "`alert_email_to` (alert mail is on: smtp_host is set)"
                )
        return self

    @field_validator("tokens", mode="before")
    @classmethod
    def _token_list(cls, value: object) -> object:
        # One token per line in a TOUCHMETRICS_TOKENS_FILE, or comma-separated.
        if isinstance(value, str):
            tokens = tuple(t.strip() for t in value.replace("\n", ",").split(",") if t.strip())
            if not tokens:
                # An empty secret file or variable: the operator meant a token, not open writes.
                raise ValueError("no token in the value (it is empty or only separators)")
            return tokens
        return value

    @field_validator("tokens")
    @classmethod
    def _no_blank_token(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # A header's bearer value is read stripped, so a token is compared stripped too.
        tokens = tuple(token.strip() for token in value)
        for number, token in enumerate(tokens, 1):
            if not token:
                raise ValueError(
                    f"token {number} of {len(tokens)} is empty or only whitespace, "
                    "which would let a request with an empty bearer token write"
                )
        return tokens

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: dict[str, ChannelSpec]) -> dict[str, ChannelSpec]:
        for name in value:
            _checked_channel(name)
        return value

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return checked_zone(value)

    @field_validator("response_buckets", "resolution_buckets")
    @classmethod
    def _buckets(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(b <= 0 for b in value) or list(value) != sorted(set(value)):
            raise ValueError("bucket bounds must be positive and strictly increasing")
        return value

    def channel_kinds(self) -> dict[str, str]:
        """Declared channel name to kind."""
        return {name: spec.kind for name, spec in self.channels.items()}

    def histogram_bounds(self, histogram: str) -> tuple[float, ...]:
        """A histogram's bucket bounds: the configured ones plus every objective threshold on it.

        ``histogram`` is ``first_response``, ``response`` or ``resolution``. The thresholds
        make PromQL's `_bucket{le=...} / _count` give an objective's share exactly.
        """
        configured = self.resolution_buckets if histogram == "resolution" else self.response_buckets
        thresholds = {
            o.within_seconds
            for o in self.objectives.values()
            if o.indicator == histogram and o.within_seconds is not None
        }
        return tuple(sorted({float(b) for b in configured} | thresholds))


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Parse the YAML file (``path`` or $TOUCHMETRICS_CONFIG) with the environment over it,
    and ``overrides`` (command-line options) over both, in one validation."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    if path:
        data = _read_yaml(Path(path))
    elif env.get(ENV_PREFIX + "CONFIG"):
        path = env[ENV_PREFIX + "CONFIG"]
        data = _read_yaml(Path(path), via=ENV_PREFIX + "CONFIG")
    data.update(_from_env(env))
    data.update(overrides or {})
    return parse_settings(data, source=str(path) if path else "environment")


def parse_settings(data: Mapping[str, Any], source: str = "settings") -> Settings:
    """Validate a mapping into Settings, naming the bad key on failure."""
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise ConfigError(f"{source}: bad configuration: {problems}") from exc


def _problem(err: Any) -> str:
    """One validation error: the dotted key, the rule, and a did-you-mean for a typo."""
    loc = [str(p) for p in err["loc"]]
    message = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        known = _known_keys(loc[:-1])
        close = difflib.get_close_matches(loc[-1], known, n=1)
        message = f"unknown key{f'; did you mean `{close[0]}`?' if close else ''}"
    return f"`{'.'.join(loc)}`: {message}" if loc else message


def _known_keys(parent: list[str]) -> list[str]:
    """The keys allowed where an unknown one was found (top level, a channel, an objective)."""
    models: dict[str, type[BaseModel]] = {"channels": ChannelSpec, "objectives": Objective}
    if len(parent) == 2 and parent[0] in models:
        fields = models[parent[0]].model_fields
    elif parent == ["chatwoot"]:
        fields = ChatwootSettings.model_fields
    elif not parent:
        fields = Settings.model_fields
    else:
        return []
    return [field.alias or key for key, field in fields.items()]


def read_yaml(
    path: Path, what: str, error: type[TouchmetricsError] = ConfigError, via: str | None = None
) -> Any:
    """A YAML file's content; an unreadable or malformed file raises ``error``.

    ``via`` names the variable that pointed at the file, so its error says where to look.
    """
    named = f"{via}: " if via else ""
    try:
        with path.open(encoding="utf-8") as stream:  # a stream, so YAML errors name the file
            return yaml.safe_load(stream)
    except OSError as exc:
        raise error(f"{named}cannot read {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"{named}{path}: not UTF-8 text (byte {exc.start})") from exc
    except yaml.YAMLError as exc:
        raise error(f"{named}{path}: not valid YAML: {exc}") from exc


def _read_yaml(path: Path, via: str | None = None) -> dict[str, Any]:
    loaded = read_yaml(path, "configuration", via=via)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings")
    return loaded


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """Scalar settings from TOUCHMETRICS_<KEY>, or from the file named by <KEY>_FILE."""
    found: dict[str, Any] = {}
    for key, field in Settings.model_fields.items():
        if key in YAML_ONLY:
            continue
        name = ENV_PREFIX + key.upper()
        if name + "_FILE" in env:
            try:
                found[key] = Path(env[name + "_FILE"]).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{name}_FILE: cannot read: {exc.strerror}") from exc
        elif name in env:
            raw = env[name]
            found[key] = raw.split(",") if _is_sequence(field.annotation) else raw
        if key == "tokens" and isinstance(found.get(key), list):
            found[key] = ",".join(found[key])
    return found


def _is_sequence(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) in (tuple, list)


def settings_reference() -> str:
    """The Markdown table of every setting, its variable and default."""
    lines = [
        "| key | environment | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for key, field in Settings.model_fields.items():
        default = "{}" if field.default_factory is not None else repr(field.default)
        if key == "tokens":
            default = "() (none)"
        env = "(YAML only)" if key in YAML_ONLY else f"`{ENV_PREFIX}{key.upper()}`"
        lines.append(f"| `{key}` | {env} | `{default}` | {field.description} |")
    lines += ["", "Each entry of `objectives` (DESIGN section 11) takes:", ""]
    lines += ["| field | default | meaning |", "| --- | --- | --- |"]
    for key, field in Objective.model_fields.items():
        if key == "name":
            continue
        default = "required" if field.is_required() else repr(field.default)
        lines.append(f"| `{field.alias or key}` | `{default}` | {field.description} |")
    return "\n".join(lines) + "\n"
