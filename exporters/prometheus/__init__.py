"""The Prometheus exposition of DESIGN section 5, read from the database at scrape time."""

from exporters.prometheus.exposition import (
    CONTENT_TYPE_OPENMETRICS,
    CONTENT_TYPE_TEXT,
    make_registry,
    render_metrics,
    wants_openmetrics,
)
from exporters.prometheus.scrape import TouchmetricsCollector, read_snapshot

__all__ = [
    "CONTENT_TYPE_OPENMETRICS",
    "CONTENT_TYPE_TEXT",
    "TouchmetricsCollector",
    "make_registry",
    "read_snapshot",
    "render_metrics",
    "wants_openmetrics",
]
