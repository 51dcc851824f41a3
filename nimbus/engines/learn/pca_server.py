"""The built-in PCA inference: ``{"projections": [{"projection": [...]}]}`` from CSV, JSON, JSON lines
or RecordIO-protobuf requests, as AWS's container answers (the mean subtracted when the model was
trained with ``subtract_mean``; the most significant component last)."""

from __future__ import annotations

from typing import Any

import numpy as np

from nimbus.engines.learn.builtin_io import encode_predictions, request_rows
from nimbus.engines.learn.pca_algorithm import project


class PCAModel:
    def __init__(self, model: dict[str, Any]) -> None:
        self.model = model
        self.feature_dim = len(model["mean"])

    def predict(self, body: bytes, content_type: str) -> np.ndarray:
        return project(self.model, request_rows(body, content_type, self.feature_dim))

    def encode(self, predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
        answers = [{"projection": row.tolist()} for row in predictions]
        return encode_predictions(answers, accept, key="projections")
