"""What the built-in algorithms (Linear Learner, K-Means, PCA, k-NN, Random Cut Forest) share: the
``/opt/ml`` contract, AWS-style hyperparameter parsing, channel reading (CSV or RecordIO-protobuf),
metric lines, the model file and request/response formats of their inference.

The model is saved as ``model_algo-1`` (AWS's file name) but holds JSON (the algorithm's name and its
parameters), not AWS's MXNet parameters: a Nimbus model artifact cannot be deployed on AWS, nor an
AWS one on Nimbus.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from nimbus.engines.learn import recordio

ML_ROOT = Path(os.environ.get("NIMBUS_ML_ROOT", "/opt/ml"))
HOST = "algo-1"
MODEL_FILE = "model_algo-1"
CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
# the hyperparameter a tuning job adds to each training job it launches: its objective metric's name
TUNING_OBJECTIVE_METRIC = "_tuning_objective_metric"


class AlgorithmError(Exception):
    """A problem with the user's data or hyperparameters, reported as the job's failure reason."""


class UnsupportedContentType(ValueError):
    """The request's content type is one the container does not read (HTTP 415)."""


class UnsupportedAccept(ValueError):
    """The client accepts no format the container writes (HTTP 406)."""


class Hyperparameters:
    """AWS's string hyperparameters, read by name with AWS-style validation messages. A tuning job's
    ``_tuning_objective_metric`` is accepted by every algorithm, as AWS's containers accept it."""

    def __init__(self, values: dict[str, str], known: Iterable[str]) -> None:
        values = {name: value for name, value in values.items() if name != TUNING_OBJECTIVE_METRIC}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise AlgorithmError(f"Additional hyperparameters are not allowed ({', '.join(unknown)})")
        self.values = {name: str(value).strip() for name, value in values.items()}

    def required(self, name: str) -> str:
        if name not in self.values:
            raise AlgorithmError(f"Missing required hyperparameter: {name}")
        return self.values[name]

    def integer(
        self, name: str, default: int | None = None, minimum: int = 1, maximum: int | None = None
    ) -> int:
        text = self.values.get(name) if default is not None else self.required(name)
        if text is None:
            assert default is not None
            return default
        try:
            value = int(text)
        except ValueError:
            raise AlgorithmError(f"Hyperparameter {name}: {text!r} is not an integer") from None
        if value < minimum:
            raise AlgorithmError(f"Hyperparameter {name}: value {value} must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise AlgorithmError(f"Hyperparameter {name}: value {value} must be <= {maximum}")
        return value

    def number(self, name: str, default: float, minimum: float = 0.0) -> float:
        """A float, or ``default`` when absent or ``auto``."""
        text = self.values.get(name, "auto")
        if text == "auto":
            return default
        try:
            value = float(text)
        except ValueError:
            raise AlgorithmError(f"Hyperparameter {name}: {text!r} is not a number") from None
        if not value >= minimum:
            raise AlgorithmError(f"Hyperparameter {name}: value {value} must be >= {minimum}")
        return value

    def choice(self, name: str, options: Iterable[str], default: str | None = None) -> str:
        value = self.values.get(name, default) if default is not None else self.required(name)
        options = tuple(options)
        if value not in options:
            raise AlgorithmError(f"Hyperparameter {name}: {value!r} is not one of {', '.join(options)}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        text = self.values.get(name, "auto").lower()
        if text == "auto":
            return default
        if text not in ("true", "false"):
            raise AlgorithmError(f"Hyperparameter {name}: {text!r} is not true, false or auto")
        return text == "true"

    def names(self, name: str, options: Iterable[str], default: Iterable[str]) -> list[str]:
        """A list of names, written as JSON (``["a", "b"]``), as the SDK writes a Python list
        (``['a', 'b']``) or comma-separated (``a,b``)."""
        options = tuple(options)
        text = self.values.get(name)
        if text is None:
            return list(default)
        found = [part.strip().strip("'\"").strip() for part in text.strip().strip("[]").split(",")]
        if not all(found) or not set(found) <= set(options):
            raise AlgorithmError(f"Hyperparameter {name}: {text!r} is not a list of {', '.join(options)}")
        return found


def read_hyperparameters() -> dict[str, str]:
    path = ML_ROOT / "input" / "config" / "hyperparameters.json"
    return json.loads(path.read_text()) if path.exists() else {}


def channels() -> dict[str, str]:
    """Each channel present under ``input/data``, with its content type. Without one it is read from
    the data: RecordIO-protobuf when it starts with RecordIO's magic number (the SDK's ``record_set``
    gives no content type), else text/csv."""
    path = ML_ROOT / "input" / "config" / "inputdataconfig.json"
    config = json.loads(path.read_text()) if path.exists() else {}
    found = {
        channel: value["ContentType"].split(";")[0].strip().lower()
        for channel, value in config.items()
        if value.get("ContentType")
    }
    folder = ML_ROOT / "input" / "data"
    present = {path.name for path in folder.iterdir() if path.is_dir()} if folder.is_dir() else set()
    if "train" not in config and "train" not in present:
        raise AlgorithmError(
            "Channel 'train' is required: the input data config has no channel named 'train'"
        )
    return {channel: found.get(channel) or _sniffed(channel) for channel in sorted(present | set(config))}


def _sniffed(channel: str) -> str:
    files = channel_files(channel)
    if not files:
        return CSV
    with files[0].open("rb") as data:
        return recordio.CONTENT_TYPE if data.read(4) == recordio.MAGIC.to_bytes(4, "little") else CSV


def channel_files(channel: str) -> list[Path]:
    """The channel's data files (hidden ones, such as the SDK's ``.amazon.manifest``, skipped)."""
    folder = ML_ROOT / "input" / "data" / channel
    return sorted(path for path in folder.rglob("*") if path.is_file() and not path.name.startswith("."))


def label_size(channel: str) -> int:
    """The ``label_size`` parameter of a CSV channel's content type (``text/csv;label_size=1``)."""
    path = ML_ROOT / "input" / "config" / "inputdataconfig.json"
    config = json.loads(path.read_text()) if path.exists() else {}
    for parameter in (config.get(channel, {}).get("ContentType") or "").split(";")[1:]:
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "label_size":
            try:
                return int(value)
            except ValueError:
                raise AlgorithmError(
                    f"Channel '{channel}': label_size {value.strip()!r} is not an integer"
                ) from None
    return 0


def load_channel(channel: str, content_type: str, labelled: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Every file of the channel: features, and labels when ``labelled`` (CSV: the first column)."""
    files = channel_files(channel)
    if not files:
        raise AlgorithmError(f"Channel '{channel}' holds no files")
    if content_type == recordio.CONTENT_TYPE:
        try:
            parts = [recordio.read_dense(path.read_bytes()) for path in files]
        except recordio.RecordIOError as error:
            raise AlgorithmError(f"Channel '{channel}': could not read RecordIO-protobuf ({error})") from None
        features = np.vstack([part[0] for part in parts])
        labels = [part[1] for part in parts]
        if labelled and any(part is None for part in labels):
            raise AlgorithmError(f"Channel '{channel}': every record needs a label")
        return features, np.concatenate(labels) if labelled else None  # type: ignore[arg-type]
    if content_type != CSV:
        raise AlgorithmError(
            f"Content type {content_type!r} of channel '{channel}' is not supported: "
            f"use text/csv or {recordio.CONTENT_TYPE}"
        )
    try:
        rows = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    except ValueError as error:
        raise AlgorithmError(f"Channel '{channel}': could not read CSV ({error})") from None
    return (rows[:, 1:], rows[:, 0]) if labelled else (rows, None)


def check_feature_dim(features: np.ndarray, feature_dim: int | None, channel: str) -> None:
    if feature_dim is not None and features.shape[1] != feature_dim:
        raise AlgorithmError(
            f"Channel '{channel}': records have {features.shape[1]} features, feature_dim is {feature_dim}"
        )


def print_metric(channel: str, name: str, kind: str, value: float, epoch: int | None = None) -> None:
    """One ``#quality_metric`` line as AWS's algorithms print it (``kind``: loss or score)."""
    at = f", epoch={epoch}" if epoch is not None else ""
    print(f"#quality_metric: host={HOST}{at}, {channel} {name} <{kind}>={value:.6g}", flush=True)


def save_model(model: dict[str, Any]) -> None:
    (ML_ROOT / "model" / MODEL_FILE).write_text(json.dumps(model))


def load_model(model_dir: Path) -> dict[str, Any]:
    return json.loads((model_dir / MODEL_FILE).read_text())


def run(train: Callable[[], None]) -> int:
    """Runs ``train``; an AlgorithmError becomes ``/opt/ml/output/failure`` and exit status 1."""
    try:
        train()
    except AlgorithmError as error:
        (ML_ROOT / "output" / "failure").write_text(f"AlgorithmError: {error}")
        print(f"AlgorithmError: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def request_rows(body: bytes, content_type: str, feature_dim: int) -> np.ndarray:
    """The rows of an inference request: CSV without a label, JSON ``{"instances": [{"features":
    [...]}]}``, JSON lines of ``{"features": [...]}`` or RecordIO-protobuf."""
    kind = media_type(content_type) or CSV
    if kind == CSV:
        text = body.decode("utf-8").strip()
        if not text:
            raise ValueError("Request body is empty.")
        rows = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float64, ndmin=2)
    elif kind == JSON:
        document = json.loads(body)
        instances = document.get("instances") if isinstance(document, dict) else None
        if not isinstance(instances, list) or not instances:
            raise ValueError('JSON body must be {"instances": [{"features": [...]}, ...]}.')
        rows = np.asarray([_features(item) for item in instances], dtype=np.float64)
    elif kind == JSONLINES:
        lines = [line for line in body.decode("utf-8").splitlines() if line.strip()]
        rows = np.asarray([_features(json.loads(line)) for line in lines], dtype=np.float64)
    elif kind == recordio.CONTENT_TYPE:
        rows = recordio.read_dense(body)[0]
    else:
        raise UnsupportedContentType(f"Content type {kind} is not supported by this algorithm.")
    if rows.ndim != 2 or rows.shape[1] != feature_dim:
        raise ValueError(f"Each record must have {feature_dim} features.")
    return rows


def _features(item: Any) -> list[float]:
    """``{"features": [...]}``, or AWS's longer ``{"data": {"features": {"values": [...]}}}``."""
    if isinstance(item, dict) and isinstance(item.get("data"), dict):
        item = item["data"]
        if isinstance(item.get("features"), dict):
            item = {"features": item["features"].get("values")}
    if not isinstance(item, dict) or not isinstance(item.get("features"), list):
        raise ValueError('Each instance must be {"features": [...]}.')
    return item["features"]


def encode_predictions(
    predictions: list[dict[str, Any]], accept: str, key: str = "predictions"
) -> tuple[bytes, str]:
    """``{key: [...]}`` (JSON, the default; ``key`` is ``projections`` for PCA, ``scores`` for Random
    Cut Forest), one object a line (JSON lines) or one RecordIO-protobuf record a prediction, its
    fields as the record's label tensors."""
    kind = media_type(accept)
    if kind in ("", "*/*", JSON, "application/*"):
        return json.dumps({key: predictions}).encode(), JSON
    if kind == JSONLINES:
        return "".join(json.dumps(item) + "\n" for item in predictions).encode(), JSONLINES
    if kind == recordio.CONTENT_TYPE:
        records = (
            recordio.frame(
                recordio.encode_record({}, {name: np.ravel(value) for name, value in item.items()})
            )
            for item in predictions
        )
        return b"".join(records), recordio.CONTENT_TYPE
    raise UnsupportedAccept(
        f"Accept {kind} is not supported: use {JSON}, {JSONLINES} or {recordio.CONTENT_TYPE}."
    )
