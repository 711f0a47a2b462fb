"""Outputs of touchmetrics, one sub-package each: report (CI check outputs), prometheus, ..."""
