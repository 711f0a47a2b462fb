"""Prometheus rules, their promtool tests and an Alertmanager configuration (DESIGN 13)."""

from exporters.rules.alertmanager import DEFAULT_PASSWORD_FILE, Timing, alertmanager_config
from exporters.rules.check import Outcome, check_rules
from exporters.rules.files import ALERTMANAGER_FILE, RULES_FILE, TESTS_FILE, Written, write_rules
from exporters.rules.promql import ALERT, events_name, le_label, ratio_name
from exporters.rules.rulefile import rule_file
from exporters.rules.unittests import rule_tests

__all__ = [
    "ALERT",
    "ALERTMANAGER_FILE",
    "DEFAULT_PASSWORD_FILE",
    "RULES_FILE",
    "TESTS_FILE",
    "Outcome",
    "Timing",
    "Written",
    "alertmanager_config",
    "check_rules",
    "events_name",
    "le_label",
    "ratio_name",
    "rule_file",
    "rule_tests",
    "write_rules",
]
