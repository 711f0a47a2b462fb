# One command per chore. Each sets up the virtual environment first when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "touchmetrics needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@mkdir -p var
	$(BIN)/touchmetrics serve --demo --config examples/demo.yaml

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# make bench lists the benchmarks; make bench BENCH="stream --quick" runs one (BENCH=issue13: all of issue 13's).
bench: $(STAMP)
	$(BIN)/python bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) var touchmetrics.db touchmetrics.db-wal touchmetrics.db-shm touchmetrics.db.scheduler.lock .pytest_cache .mypy_cache .ruff_cache .hypothesis
