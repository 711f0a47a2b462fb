"""Grafana dashboards for touchmetrics: builders, generated JSON and provisioning files.

Empty for now: the dashboards come with the Grafana issue. The folder exists so the
layout of the design contract (collector/, exporters/, dashboards/) holds from the start.
"""
