"""The benchmarks, listed and run by name (`make bench`, `make bench BENCH="stream --quick"`).

    .venv/bin/python bench/run.py                   # list them
    .venv/bin/python bench/run.py issue13 --quick   # issue 13's, one after another, small
    .venv/bin/python bench/run.py stream --events 50000     # one, with its own arguments

Each is a script of bench/ that prints its figures and asserts nothing; `--quick` reaches only
the scripts that take it. To set two versions of the code side by side, see bench/compare.py.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# Issue 13 (ingest cost that does not grow with conversation length or arrival order).
ISSUE13 = ["stream", "arrival", "windows", "pg_ingest", "file_report"]
EARLIER = [
    "ingest", "http_ingest", "scrape", "load", "counters_load", "page", "evaluate", "check",
    "mapping", "open_report", "validate",
]  # fmt: skip


def main() -> None:
    if len(sys.argv) < 2:
        _list()
        return
    name, rest = sys.argv[1], sys.argv[2:]
    if name == "issue13":
        for script in ISSUE13:
            _run(script, [a for a in rest if a != "--quick" or _takes_quick(script)])
    else:
        _run(name, rest)


def _list() -> None:
    print(__doc__.split("\n\n")[1].rstrip())
    for title, names in (("\nissue 13 (run all: issue13)", ISSUE13), ("\nearlier", EARLIER)):
        print(title)
        for name in names:
            print(f"  {name:<14} {_summary(name)}")


def _summary(name: str) -> str:
    """The first line of the script's docstring, read without importing it."""
    script = BENCH / f"{name}.py"
    if not script.exists():
        return "(not in this checkout yet)"
    docstring = ast.get_docstring(ast.parse(script.read_text())) or ""
    return docstring.splitlines()[0] if docstring else ""


def _takes_quick(name: str) -> bool:
    script = BENCH / f"{name}.py"
    return script.exists() and '"--quick"' in script.read_text()


def _run(name: str, args: list[str]) -> None:
    script = BENCH / f"{name}.py"
    if not script.exists():
        print(f"\n== {name}: not in this checkout, skipped", flush=True)
        return
    print(f"\n== {name} {' '.join(args)}", flush=True)
    done = subprocess.run([sys.executable, str(script), *args], check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode})")


if __name__ == "__main__":
    main()
