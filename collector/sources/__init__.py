"""Readers that turn input files into records: JSON Lines of events, CSV through a mapping."""
