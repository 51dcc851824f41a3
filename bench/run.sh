#!/usr/bin/env bash
# One command for the benchmarks: `bench/run.sh` runs them all; `bench/run.sh s3 [args]` runs one.
# Each prints Markdown; record results with the date and machine in bench/RESULTS.md.
#   s3              Nimbus vs moto_server: 4 KiB and 256 MiB objects, and the raw disk (s3_bench.py)
#   vision          Rekognition through the API vs the engines in-process, and 100,000-face search
#   vision-quality  face verification, label top-5 and OCR accuracy on data nobody here labelled
#   nlu             intent F1 of the NLU engine on the Braun et al. 2017 corpora beside published systems
#   lex             Lex V2 through the API: intent F1, RecognizeText latency, build time, speech WER
#   speech          word error rate and real-time factor of the speech recognizer
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
declare -A SCRIPTS=(
  [s3]=bench/s3_bench.py
  [vision]=bench/vision_bench.py
  [vision-quality]=bench/vision_quality.py
  [nlu]=bench/nlu_bench.py
  [lex]=bench/lex_bench.py
  [speech]=bench/speech_bench.py
)
if [ $# -gt 0 ]; then
  name=$1; shift
  [ -n "${SCRIPTS[$name]:-}" ] || { echo "unknown benchmark '$name': one of ${!SCRIPTS[*]}" >&2; exit 2; }
  exec "$PYTHON" "${SCRIPTS[$name]}" "$@"
fi
for name in s3 vision vision-quality nlu lex speech; do
  echo "## $name"; echo
  "$PYTHON" "${SCRIPTS[$name]}"
  echo
done
