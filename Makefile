# The two commands a newcomer runs: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test install install-test lint bench coverage-doc

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test,bench]"

serve: install
	$(BIN)/nimbus serve

test: install-test
	$(BIN)/ruff check nimbus tests bench
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check nimbus tests bench

bench: install-test
	bash bench/run.sh

coverage-doc: install
	$(BIN)/python -m nimbus.coverage > docs/coverage.md
