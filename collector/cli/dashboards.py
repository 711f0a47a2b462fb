"""`touchmetrics dashboards build|push`: the Grafana dashboards of DESIGN section 14."""

from __future__ import annotations

from pathlib import Path

import click

from collector.cli.common import Abort, config_option, load
from collector.errors import TouchmetricsError


@click.group()
def dashboards() -> None:
    """Grafana dashboards built from the channels and objectives."""


@dashboards.command("build")
@config_option
@click.option(
    "-o",
    "--output",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write: mount it as Grafana's /etc/grafana/provisioning.",
)
@click.option(
    "--prometheus-url",
    default="http://prometheus:9090",
    show_default=True,
    help="Where Grafana reaches Prometheus (the provisioned data source).",
)
@click.option(
    "--scrape-interval",
    default="15s",
    show_default=True,
    help="Prometheus' scrape interval, so $__rate_interval spans at least four scrapes.",
)
@click.option(
    "--mounted-at",
    default="/etc/grafana/provisioning",
    show_default=True,
    help="Where the folder is mounted inside Grafana (the provider's path starts here).",
)
def build(
    config_path: Path | None, out: Path, prometheus_url: str, scrape_interval: str, mounted_at: str
) -> None:
    """Write both dashboards and Grafana's provisioning files into a folder."""
    from dashboards import Target, write_folder
    from dashboards import build as build_dashboards

    settings = load(config_path)
    target = Target(prometheus_url, scrape_interval, mounted_at.rstrip("/"))
    try:
        written = write_folder(out, build_dashboards(settings), target)
    except OSError as exc:
        raise Abort(f"cannot write {out}: {exc.strerror}") from exc
    for path in written:
        click.echo(str(path))


@dashboards.command("push")
@config_option
@click.option(
    "--grafana-url",
    help="Grafana's base URL (setting grafana_url); the token comes from "
    "TOUCHMETRICS_GRAFANA_TOKEN.",
)
def push(config_path: Path | None, grafana_url: str | None) -> None:
    """Upload both dashboards into Grafana's touchmetrics folder, replacing the same uids."""
    from dashboards import build as build_dashboards
    from dashboards.push import push as push_dashboards
    from dashboards.push import shown

    settings = load(config_path)
    url = grafana_url or settings.grafana_url
    if not settings.grafana_token:
        click.echo(f"warning: no TOUCHMETRICS_GRAFANA_TOKEN; pushing to {shown(url)} without one")
    try:
        pushed = push_dashboards(url, settings.grafana_token, build_dashboards(settings))
    except TouchmetricsError as exc:
        raise Abort(str(exc)) from exc
    base = shown(url).rstrip("/")
    for each in pushed:
        click.echo(f"{each.uid}: {each.title} -> {base}{each.url} (version {each.version})")
