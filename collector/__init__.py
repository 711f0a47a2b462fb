"""touchmetrics collector: takes in interaction logs and derives per-channel service metrics."""

__version__ = "0.1.0"
