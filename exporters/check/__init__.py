"""The outputs of `touchmetrics check` (DESIGN section 15): JSON, table, Markdown, JUnit XML
and GitHub workflow commands with a step summary."""

from exporters.check.github import append_step_summary, workflow_commands
from exporters.check.junit import junit_xml, write_junit
from exporters.check.render import FORMATS, render
from exporters.check.words import reason

__all__ = [
    "FORMATS",
    "append_step_summary",
    "junit_xml",
    "reason",
    "render",
    "workflow_commands",
    "write_junit",
]
