"""The built-in XGBoost algorithm (SageMaker's "algorithm mode"), run inside the sandbox as
``python -m nimbus.engines.learn.xgboost_algorithm``.

It reads ``/opt/ml/input/config/hyperparameters.json`` (AWS's names, every value a string) and the
``train`` (required) and ``validation`` channels, as CSV with the label first and no header or as
libsvm, trains with the ``xgboost`` package, prints one metric line per round in AWS's format
(``[3]#011train-rmse:0.12#011validation-rmse:0.15``) and saves the booster as
``/opt/ml/model/xgboost-model``. A failure writes its reason to ``/opt/ml/output/failure`` and exits 1.

On several instances it trains as the SageMaker XGBoost container does: algo-1 runs xgboost's
tracker, every instance joins xgboost's collective and reads its own channels (its shard with
ShardedByS3Key), the instances' gradient histograms are summed, so all grow the same trees, and
algo-1 saves the model.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from xgboost.tracker import RabitTracker

from nimbus.engines.devices import DeviceUnavailable, current_device, xgboost_device
from nimbus.engines.learn.builtin_io import (
    ML_ROOT,
    TUNING_OBJECTIVE_METRIC,
    AlgorithmError,
    read_hyperparameters,
    run,
)
from nimbus.engines.learn.cluster import RENDEZVOUS_PORT_VARIABLE

CHANNELS = ("train", "validation")
# hyperparameters that are not booster parameters
NOT_PARAMS = {"num_round", "early_stopping_rounds", "csv_weights", "eval_metric", TUNING_OBJECTIVE_METRIC}
INTEGER_PARAMS = {"max_depth", "max_leaves", "max_bin", "num_parallel_tree", "seed", "num_class", "verbosity"}
FLOAT_PARAMS = {
    "eta",
    "gamma",
    "min_child_weight",
    "max_delta_step",
    "subsample",
    "colsample_bytree",
    "colsample_bylevel",
    "colsample_bynode",
    "lambda",
    "alpha",
    "scale_pos_weight",
    "base_score",
    "tweedie_variance_power",
    "sketch_eps",
    "rate_drop",
    "skip_drop",
}


class MetricPrinter(xgb.callback.TrainingCallback):
    """Prints each round's evaluation as the SageMaker XGBoost container does (tabs logged as ``#011``)."""

    def after_iteration(self, model: xgb.Booster, epoch: int, evals_log: dict[str, Any]) -> bool:
        values = [
            f"{data}-{metric}:{history[-1]:.5f}"
            for data, metrics in evals_log.items()
            for metric, history in metrics.items()
        ]
        print(f"[{epoch}]#011" + "#011".join(values), flush=True)
        return False


def content_types() -> dict[str, str]:
    path = ML_ROOT / "input" / "config" / "inputdataconfig.json"
    config = json.loads(path.read_text()) if path.exists() else {}
    return {channel: (value.get("ContentType") or "text/csv").lower() for channel, value in config.items()}


def booster_parameters(hyperparameters: dict[str, str]) -> tuple[dict[str, Any], int]:
    """The booster's parameters with AWS's names typed, and the number of rounds."""
    try:
        rounds = int(hyperparameters["num_round"])
    except KeyError:
        raise AlgorithmError("Missing required hyperparameter: num_round") from None
    except ValueError:
        raise AlgorithmError(
            f"Hyperparameter num_round: {hyperparameters['num_round']!r} is not an integer"
        ) from None
    if rounds < 1:
        raise AlgorithmError(f"Hyperparameter num_round: value {rounds} must be >= 1")
    params: dict[str, Any] = {}
    for name, value in hyperparameters.items():
        if name in NOT_PARAMS:
            continue
        params[name] = typed_value(name, str(value))
    metrics = eval_metrics(hyperparameters)
    return params | ({"eval_metric": metrics} if metrics else {}), rounds


def eval_metrics(hyperparameters: dict[str, str]) -> list[str]:
    """``eval_metric`` (comma-separated), plus a tuning job's objective metric (``validation:auc``
    evaluates ``auc``), as AWS's container adds it."""
    metrics = [name.strip() for name in hyperparameters.get("eval_metric", "").split(",") if name.strip()]
    objective = hyperparameters.get(TUNING_OBJECTIVE_METRIC, "").partition(":")[2]
    return metrics + ([objective] if objective and objective not in metrics else [])


def typed_value(name: str, value: str) -> Any:
    try:
        if name in INTEGER_PARAMS:
            return int(value)
        if name in FLOAT_PARAMS:
            return float(value)
    except ValueError:
        raise AlgorithmError(f"Hyperparameter {name}: {value!r} is not a number") from None
    return value


def load_channel(channel: str, content_type: str) -> xgb.DMatrix:
    """Every file of the channel, as one matrix: CSV with the label in the first column, or libsvm."""
    folder = ML_ROOT / "input" / "data" / channel
    files = sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))
    if not files:
        raise AlgorithmError(f"Channel '{channel}' holds no files")
    if "libsvm" in content_type:
        return libsvm_matrix(files)
    if "csv" not in content_type:
        raise AlgorithmError(
            f"Content type {content_type!r} of channel '{channel}' is not supported: "
            "use text/csv or text/libsvm"
        )
    try:
        rows = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    except ValueError as error:
        raise AlgorithmError(f"Channel '{channel}': could not read CSV ({error})") from None
    return xgb.DMatrix(rows[:, 1:], label=rows[:, 0])


def libsvm_matrix(files: list[Path]) -> xgb.DMatrix:
    if len(files) == 1:
        return xgb.DMatrix(f"{files[0]}?format=libsvm")
    joined = Path("/tmp") / "joined.libsvm"
    joined.write_text("".join(path.read_text() for path in files))
    return xgb.DMatrix(f"{joined}?format=libsvm")


def train() -> None:
    hyperparameters = read_hyperparameters()
    params, rounds = booster_parameters(hyperparameters)
    try:  # a GPU instance's job trains on its GPU, or fails saying why: never on the CPU unasked
        params.setdefault("device", xgboost_device(current_device()))
    except DeviceUnavailable as error:
        raise AlgorithmError(str(error)) from None
    types = content_types()
    if "train" not in types and not (ML_ROOT / "input" / "data" / "train").is_dir():
        raise AlgorithmError(
            "Channel 'train' is required: the input data config has no channel named 'train'"
        )
    matrices = {
        channel: load_channel(channel, types.get(channel, "text/csv"))
        for channel in CHANNELS
        if (ML_ROOT / "input" / "data" / channel).is_dir()
    }
    print(
        f"Train matrix has {matrices['train'].num_row()} rows and {matrices['train'].num_col()} columns",
        flush=True,
    )
    early_stopping = hyperparameters.get("early_stopping_rounds")
    resources = json.loads((ML_ROOT / "input" / "config" / "resourceconfig.json").read_text())
    hosts, current = resources["hosts"], resources["current_host"]
    try:
        with collective(hosts, current):
            booster = xgb.train(
                params,
                matrices["train"],
                num_boost_round=rounds,
                evals=list((matrix, channel) for channel, matrix in matrices.items()),
                early_stopping_rounds=int(early_stopping) if early_stopping else None,
                verbose_eval=False,
                callbacks=[MetricPrinter()],
            )
    except xgb.core.XGBoostError as error:
        raise AlgorithmError(xgboost_message(error)) from None
    if current == hosts[0]:
        booster.save_model(ML_ROOT / "model" / "xgboost-model")


@contextlib.contextmanager
def collective(hosts: list[str], current: str) -> Iterator[None]:
    """xgboost's collective over the instances (nothing on one instance): algo-1 runs the tracker at
    its address, on the port Nimbus gives the job; every instance joins it, ranked in host order."""
    if len(hosts) == 1:
        yield
        return
    address, port = socket.gethostbyname(hosts[0]), int(os.environ[RENDEZVOUS_PORT_VARIABLE])
    tracker = None
    if current == hosts[0]:
        tracker = RabitTracker(n_workers=len(hosts), host_ip=address, port=port, sortby="task")
        tracker.start()
    print(f"Joining the xgboost collective of {len(hosts)} instances at {hosts[0]}:{port}", flush=True)
    task = f"{hosts.index(current):05d}"  # the tracker ranks by task id: algo-1 is rank 0
    arguments = {"dmlc_tracker_uri": address, "dmlc_tracker_port": port, "dmlc_task_id": task}
    with xgb.collective.CommunicatorContext(**arguments, dmlc_retry=30):
        yield
    if tracker is not None:
        tracker.wait_for()


def xgboost_message(error: Exception) -> str:
    """XGBoost's message without its ``[time] source.cc:line:`` prefix (first line only)."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    return re.sub(r"^\[[^\]]*\]\s+\S+:\d+:\s*", "", first)


if __name__ == "__main__":
    sys.exit(run(train))
