"""The built-in k-NN inference: ``{"predictions": [{"predicted_label": ...}]}`` from CSV, JSON, JSON
lines or RecordIO-protobuf requests, as AWS's container answers. With the accept
``application/json; verbose=true`` each prediction also holds its ``k`` neighbors' ``distances``
(similarities for COSINE and INNER_PRODUCT), nearest first, and their ``labels``."""

from __future__ import annotations

from typing import Any

import numpy as np

from nimbus.engines.learn.builtin_io import encode_predictions, request_rows
from nimbus.engines.learn.knn_algorithm import neighbors, predict


class KNNModel:
    def __init__(self, model: dict[str, Any]) -> None:
        self.model = model

    def predict(self, body: bytes, content_type: str) -> np.ndarray:
        """Per record, its neighbors' distances (row 0) and labels (row 1): shape ``(n, 2, k)``."""
        distances, labels = neighbors(self.model, request_rows(body, content_type, self.model["feature_dim"]))
        return np.stack([distances, labels], axis=1)

    def encode(self, predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
        distances, labels = predictions[:, 0], predictions[:, 1]
        predicted = predict(self.model, labels)
        verbose = any(
            parameter.replace(" ", "").lower() == "verbose=true" for parameter in accept.split(";")[1:]
        )
        answers = [
            {"predicted_label": float(label)}
            | ({"distances": near.tolist(), "labels": near_labels.tolist()} if verbose else {})
            for label, near, near_labels in zip(predicted, distances, labels, strict=True)
        ]
        return encode_predictions(answers, accept)
