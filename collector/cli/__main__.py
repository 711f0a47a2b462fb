"""`python -m collector.cli`: the same as the `touchmetrics` command."""

from collector.cli import main

main()
