"""The report of DESIGN section 4 rendered as JSON, a terminal table, CSV or Markdown."""

from exporters.report.render import FORMATS, render

__all__ = ["FORMATS", "render"]
