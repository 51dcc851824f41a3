"""The built-in Random Cut Forest inference: ``{"scores": [{"score": ...}]}`` from CSV, JSON, JSON lines
or RecordIO-protobuf requests, as AWS's container answers."""

from __future__ import annotations

from typing import Any

import numpy as np

from nimbus.engines.learn.builtin_io import encode_predictions, request_rows
from nimbus.engines.learn.rcf_algorithm import from_model, scores


class RandomCutForestModel:
    def __init__(self, model: dict[str, Any]) -> None:
        self.forest = from_model(model)
        self.boxes = self.forest.boxes()  # once per worker, shared by all requests
        self.feature_dim = int(model["feature_dim"])

    def predict(self, body: bytes, content_type: str) -> np.ndarray:
        return scores(self.forest, self.boxes, request_rows(body, content_type, self.feature_dim))

    def encode(self, predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
        return encode_predictions([{"score": float(value)} for value in predictions], accept, key="scores")
