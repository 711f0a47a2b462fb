"""The /metrics body: a registry per store, rendered in the format the scraper asks for."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from prometheus_client.openmetrics.exposition import generate_latest as _openmetrics

from collector.store import Store
from exporters.prometheus.scrape import TouchmetricsCollector

# Untyped in prometheus_client; the cast keeps strict mypy honest about what it returns.
generate_openmetrics = cast(Callable[[CollectorRegistry], bytes], _openmetrics)
CONTENT_TYPE_TEXT: str = CONTENT_TYPE_PLAIN_0_0_4
CONTENT_TYPE_OPENMETRICS: str = OPENMETRICS
OPENMETRICS_MEDIA = "application/openmetrics-text"
TEXT_MEDIA = ("text/plain", "text/*", "*/*")


def make_registry(store: Store) -> CollectorRegistry:
    """A private registry holding only the touchmetrics collector (no process metrics)."""
    # Not the global REGISTRY: each app or test gets its own, so two never collide.
    registry = CollectorRegistry()
    registry.register(TouchmetricsCollector(store))
    return registry


def render_metrics(registry: CollectorRegistry, accept: str | None = None) -> tuple[bytes, str]:
    """The exposition body and its Content-Type for an HTTP Accept header.

    Raises collector.errors.StoreError when the database cannot be read.
    """
    if wants_openmetrics(accept):
        return generate_openmetrics(registry), CONTENT_TYPE_OPENMETRICS
    return generate_text(registry), CONTENT_TYPE_TEXT


def wants_openmetrics(accept: str | None) -> bool:
    """True when the Accept header prefers OpenMetrics 1.x to the classic text format."""
    best_openmetrics = best_text = 0.0
    for media, params in _media_ranges(accept or ""):
        quality = _quality(params.get("q", "1"))
        if media == OPENMETRICS_MEDIA and params.get("version", "1").split(".")[0] == "1":
            best_openmetrics = max(best_openmetrics, quality)
        elif media in TEXT_MEDIA:
            best_text = max(best_text, quality)
    # On a tie OpenMetrics wins: a scraper naming it explicitly can parse it.
    return best_openmetrics > 0 and best_openmetrics >= best_text


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    ranges = []
    for part in accept.split(","):
        media, *params = (token.strip() for token in part.split(";"))
        options = {}
        for param in params:
            key, _, value = param.partition("=")
            options[key.strip().lower()] = value.strip().strip('"')
        ranges.append((media.lower(), options))
    return ranges


def _quality(text: str) -> float:
    try:
        return min(max(float(text), 0.0), 1.0)
    except ValueError:
        return 0.0  # a malformed weight must not win the negotiation
