"""alertmanager.yml: objective alerts routed by severity to mail from the SMTP settings.

The SMTP password is never written here: Alertmanager reads it from a file of its own
(``auth_password_file``), a Docker secret in docker-compose.yml.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from collector.errors import ConfigError
from collector.settings import Settings

DEFAULT_PASSWORD_FILE = "/run/secrets/smtp_password"
SEVERITIES = ("critical", "warning")
# One mail per objective and group, as the built-in mail sends: one per state flip.
GROUP_BY = ["alertname", "objective", "channel", "kind"]
# A resolved alert keeps the annotations of its last breached evaluation, so its summary
# holds the breached value: the mail says so rather than quote it as the current one.
SUBJECT = (
    "[{{ .Status | toUpper }}] {{ .CommonAnnotations.title }}: "
    '{{ if eq .Status "resolved" }}met again, was {{ end }}'
    "{{ .CommonAnnotations.summary }} ({{ .CommonLabels.severity }})"
)
TEXT = """{{ range .Alerts }}{{ .Status | toUpper }}: \
{{ if eq .Status "resolved" }}met again, was {{ end }}{{ .Annotations.summary }}
{{ .Annotations.description }}
Since {{ .StartsAt.Format "2006-01-02 15:04:05 MST" }}\
{{ if eq .Status "resolved" }}, resolved {{ .EndsAt.Format "2006-01-02 15:04:05 MST" }}{{ end }}

{{ end }}"""


@dataclass(frozen=True, slots=True)
class Timing:
    """How Alertmanager batches mail (its own settings, with its usual meanings)."""

    group_wait: str = "30s"
    group_interval: str = "5m"
    # Alertmanager reminds of a breach still firing; a day keeps that to a daily note.
    repeat_interval: str = "1d"


DEFAULT_TIMING = Timing()


def alertmanager_config(
    settings: Settings, password_file: str = DEFAULT_PASSWORD_FILE, timing: Timing = DEFAULT_TIMING
) -> dict[str, Any]:
    """The configuration; raises ConfigError naming the setting that makes one impossible."""
    if settings.smtp_host is None:
        raise ConfigError("`smtp_host` is not set: Alertmanager has no server to mail through")
    if settings.smtp_security == "ssl" and settings.smtp_port != 465:
        raise ConfigError(
            "`smtp_security: ssl` needs `smtp_port: 465`: Alertmanager speaks TLS from the "
            "start only on port 465 (or use `smtp_security: starttls`)"
        )
    default_to = list(settings.alert_email_to)
    unaddressed = [o.name for o in settings.objectives.values() if not (o.notify or default_to)]
    if unaddressed:
        raise ConfigError(
            f"`alert_email_to` is empty and objectives {', '.join(unaddressed)} have no "
            "`notify`: Alertmanager would have nobody to mail"
        )
    objectives = settings.objectives.values()
    # An objective with its own `notify` list has its own receiver; the rest go by severity.
    routes = [
        {"matchers": [f'objective="{o.name}"'], "receiver": f"touchmetrics-{o.name}"}
        for o in objectives
        if o.notify
    ]
    receivers = [_receiver(f"touchmetrics-{o.name}", o.notify) for o in objectives if o.notify]
    if default_to:
        routes += [
            {"matchers": [f'severity="{s}"'], "receiver": f"touchmetrics-{s}"} for s in SEVERITIES
        ]
        receivers += [_receiver(f"touchmetrics-{s}", default_to) for s in SEVERITIES]
    # The root takes what no route matches: the warning mail, or nobody when every
    # objective names its own recipients.
    root = "touchmetrics-warning" if default_to else "touchmetrics-nobody"
    if not default_to:
        receivers.append({"name": root})
    return {
        "global": _smtp(settings, password_file),
        "route": {
            "receiver": root,
            "group_by": GROUP_BY,
            "group_wait": timing.group_wait,
            "group_interval": timing.group_interval,
            "repeat_interval": timing.repeat_interval,
            "routes": routes,
        },
        "receivers": receivers,
    }


def _smtp(settings: Settings, password_file: str) -> dict[str, Any]:
    smtp: dict[str, Any] = {
        "smtp_smarthost": f"{settings.smtp_host}:{settings.smtp_port}",
        "smtp_from": settings.smtp_from,
    }
    if settings.smtp_username is not None:
        smtp["smtp_auth_username"] = settings.smtp_username
        smtp["smtp_auth_password_file"] = password_file
    # With `ssl` on port 465 Alertmanager dials TLS itself; STARTTLS on top would fail.
    smtp["smtp_require_tls"] = settings.smtp_security == "starttls"
    return smtp


def _receiver(name: str, to: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "email_configs": [
            {
                "to": ", ".join(to),
                "send_resolved": True,
                "headers": {"Subject": SUBJECT},
                "text": TEXT,
            }
        ],
    }
