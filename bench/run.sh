#!/usr/bin/env bash
# One command: start Nimbus and moto_server on free loopback ports, benchmark both, print a Markdown table.
#   bench/run.sh [--requests 2000] [--concurrency 4] [--object-kib 4] [--large-mib 256] [--only nimbus|moto]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
exec "$PYTHON" bench/s3_bench.py "$@"
