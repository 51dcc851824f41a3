"""The built-in XGBoost algorithm's inference: load ``xgboost-model`` and answer the formats the
SageMaker XGBoost container accepts (text/csv rows without a label, application/json instances,
application/jsonlines: one instance per line)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import xgboost

from nimbus.engines.devices import current_device, xgboost_device

MODEL_FILE = "xgboost-model"
CSV = "text/csv"
JSON = "application/json"
JSONLINES = ("application/jsonlines", "application/x-jsonlines")


class UnsupportedContentType(ValueError):
    """The request's content type is one the container does not read (HTTP 415)."""


class XGBoostModel:
    """One booster, loaded once per worker and shared by all its requests."""

    def __init__(self, model_dir: Path) -> None:
        path = model_dir / MODEL_FILE
        if not path.is_file():
            raise FileNotFoundError(f"model artifact has no {MODEL_FILE} file at its root")
        self.booster = xgboost.Booster()
        self.booster.load_model(str(path))
        self.booster.set_param({"device": xgboost_device(current_device())})

    def predict(self, body: bytes, content_type: str) -> np.ndarray:
        """Predictions for the rows in body; ValueError when the rows cannot be read."""
        rows = _rows(body, _media_type(content_type))
        return np.asarray(self.booster.predict(xgboost.DMatrix(rows)))

    @staticmethod
    def encode(predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
        """The predictions as the client asked: CSV (one per line) or JSON ``{"predictions": [...]}``."""
        if _media_type(accept) == JSON:
            scores = [{"score": value} for value in predictions.tolist()]
            return json.dumps({"predictions": scores}).encode(), JSON
        lines = "\n".join(_csv_value(value) for value in predictions.tolist())
        return lines.encode(), CSV


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower() or CSV


def _rows(body: bytes, media_type: str) -> np.ndarray:
    if media_type == CSV:
        return _csv_rows(body)
    if media_type == JSON:
        return _json_rows(body)
    if media_type in JSONLINES:
        return _instance_rows([json.loads(line) for line in body.splitlines() if line.strip()])
    raise UnsupportedContentType(f"Content type {media_type} is not supported by this algorithm.")


def _csv_rows(body: bytes) -> np.ndarray:
    text = body.decode("utf-8").strip()
    if not text:
        raise ValueError("Request body is empty.")
    rows = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.float32, ndmin=2)
    return rows


def _json_rows(body: bytes) -> np.ndarray:
    document = json.loads(body)
    instances = document.get("instances") if isinstance(document, dict) else document
    if not isinstance(instances, list) or not instances:
        raise ValueError('JSON body must be {"instances": [{"features": [...]}, ...]}.')
    return _instance_rows(instances)


def _instance_rows(instances: list[Any]) -> np.ndarray:
    """Rows from instances given as ``{"features": [...]}`` or as bare arrays."""
    if not instances:
        raise ValueError("Request body is empty.")
    features = [item["features"] if isinstance(item, dict) else item for item in instances]
    return np.asarray(features, dtype=np.float32).reshape(len(features), -1)


def _csv_value(value: float | list[float]) -> str:
    if isinstance(value, list):
        return ",".join(repr(float(item)) for item in value)
    return repr(float(value))
