#!/usr/bin/env bash
# One command for the benchmarks: `bench/run.sh` runs them all; `bench/run.sh s3 [args]` runs one.
# Each prints Markdown; record results with the date and machine in bench/RESULTS.md.
#   s3              Nimbus vs moto_server: 4 KiB and 256 MiB objects, and the raw disk (s3_bench.py)
#   s3-conformance  Ceph's s3-tests (core selection, or --part policies) against Nimbus and moto: --suite <checkout>
#   s3-fuzz         the S3 request-path fuzzing with a full budget (--examples N)
#   vision          Rekognition through the API vs the engines in-process, and 100,000-face search
#   vision-quality  face verification, label top-5 and OCR accuracy on data nobody here labelled
#   vision-large    DetectFaces and DetectLabels on a 12-megapixel photo: API, engine, time per stage
#   objects         COCO object detection AP and Confidence calibration: COCO val2017 folders as arguments
#   faces           face recall by size and pose, Confidence calibration: COCO val2017 folders as arguments
#   nlu             intent F1 of the NLU engine on the Braun et al. 2017 corpora beside published systems
#                   (--cv N: the fallback decision cross-validated on the training split only)
#   lex             Lex V2 through the API: intent F1, RecognizeText latency, build time, speech WER
#   nlu-languages   Lex V2 intent accuracy per language through the API: --data <xSID-0.7 dir> (en, de, it, ja),
#                   or --corpus massive --data <MASSIVE 1.1 data dir> (en, es, fr, pt)
#   nlu-fewshot     Lex V2 intent accuracy with 10 and 30 sample utterances per intent on BANKING77: --data <dir>
#   speech          word error rate and real-time factor of the speech recognizer
#   sagemaker       InvokeEndpoint (XGBoost, scikit-learn script mode) vs in-process predict and
#                   `mlflow models serve`; a built-in XGBoost training job vs xgboost.train
#   transform       batch transform records/s of a 1,000,000-row CSV (1 and 2 instances) vs in-process predict
#   emr             RunJobFlow to WAITING, step overhead, MLlib training on 1 and 2 workers vs local mode
#   emr-access      EMR steps' s3:// I/O in place (no role) vs over HTTP as the role: N MB, small objects
#   video           Rekognition Video: seconds of video analysed per wall second
#   custom-labels   Custom Labels through the API: held-out accuracy on digits and Fashion-MNIST, training time
#   streams         SQS send/receive throughput vs moto_server; face-search stream processor lag on 720p
#   iam             authorization decision latency (p50/p99), the evaluator vs @cloud-copilot/iam-simulate
#   tuning          hyperparameter tuning: Bayesian vs Random on the same budget, over several seeds
#   console         web console page times with 10,000 objects, beside the API calls behind them
#   recommender     Inference Recommender: Default job time, and 3 back-to-back runs' agreement
#   crossover       matrix multiply and an MLP training step, CPU 1..N threads vs GPU: exponents, crossover, PNG
#   registry        container registry push/pull MB/s (skopeo) vs the raw disk; container endpoint latency vs
#                   the built-in runtime (registry_bench.py)
#   faults          crash safety: SIGKILL at random points of a mixed workload, restart, check every
#                   acknowledged operation (--kills 1000, --minutes M to bound it)
#   power-loss      the same through power cuts: unsynced writes and names dropped by a FUSE file system
#                   (power_loss_fs.py), restart, check (--sequences 200, --minutes M)
#   power-loss-cost PutObject p50/p99 before and after the fsyncs that power loss needs, side by side
#   soak            sustained load on S3, Rekognition, Lex, InvokeEndpoint: errors, RSS, p50/p99 per minute (--minutes 10)
#   listing         ListObjectsV2 paging through 100,000- and 1,000,000-object buckets
#   startup         `nimbus serve` start: import CPU time, spawn to healthy (fresh and existing data dir), `nimbus env`
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
declare -A SCRIPTS=(
  [s3]=bench/s3_bench.py
  [s3-conformance]=bench/s3_conformance.py
  [s3-fuzz]=bench/s3_fuzz.py
  [vision]=bench/vision_bench.py
  [vision-quality]=bench/vision_quality.py
  [vision-large]=bench/vision_large_photo.py
  [objects]=bench/object_quality.py
  [faces]=bench/face_quality.py
  [nlu]=bench/nlu_bench.py
  [lex]=bench/lex_bench.py
  [nlu-languages]=bench/nlu_languages_bench.py
  [nlu-fewshot]=bench/nlu_fewshot_bench.py
  [speech]=bench/speech_bench.py
  [sagemaker]=bench/sagemaker_bench.py
  [transform]=bench/transform_bench.py
  [emr]=bench/emr_bench.py
  [emr-access]=bench/emr_access_bench.py
  [video]=bench/video_bench.py
  [custom-labels]=bench/custom_labels_quality.py
  [streams]=bench/streams_bench.py
  [iam]=bench/iam_bench.py
  [tuning]=bench/tuning_bench.py
  [console]=bench/console_bench.py
  [recommender]=bench/recommender_bench.py
  [crossover]=bench/crossover_bench.py
  [registry]=bench/registry_bench.py
  [faults]=bench/fault_injection.py
  [power-loss]=bench/power_loss.py
  [power-loss-cost]=bench/power_loss_cost.py
  [soak]=bench/soak.py
  [listing]=bench/listing_bench.py
  [startup]=bench/startup_bench.py
  [endpoint-forwarding]=bench/endpoint_forwarding_bench.py
)
# MLflow, the sagemaker bench's peer, lives in its own venv: its pins may conflict with the project's.
# Created from pinned requirements when missing; the lock keeps concurrent pip installs apart.
MLFLOW_VENV=bench/.venv-mlflow
ensure_mlflow_venv() {
  # up to date when it holds a copy of the requirements it was installed from
  cmp -s requirements/bench-mlflow.txt "$MLFLOW_VENV/installed-requirements.txt" && return 0
  echo "creating $MLFLOW_VENV from requirements/bench-mlflow.txt ..." >&2
  [ -x "$MLFLOW_VENV/bin/pip" ] || python3 -m venv "$MLFLOW_VENV"
  flock /tmp/nimbus-pip.lock "$MLFLOW_VENV/bin/pip" install -q -r requirements/bench-mlflow.txt >&2
  cp requirements/bench-mlflow.txt "$MLFLOW_VENV/installed-requirements.txt"
}
if [ $# -gt 0 ]; then
  name=$1; shift
  [ -n "${SCRIPTS[$name]:-}" ] || { echo "unknown benchmark '$name': one of ${!SCRIPTS[*]}" >&2; exit 2; }
  [ "$name" != sagemaker ] || ensure_mlflow_venv
  exec "$PYTHON" "${SCRIPTS[$name]}" "$@"
fi
for name in s3 vision vision-quality vision-large nlu lex speech sagemaker transform emr video custom-labels streams iam; do
  echo "## $name"; echo
  [ "$name" != sagemaker ] || ensure_mlflow_venv
  "$PYTHON" "${SCRIPTS[$name]}"
  echo
done
