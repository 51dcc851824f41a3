"""The built-in K-Means inference: ``{"predictions": [{"closest_cluster": ..., "distance_to_cluster":
...}]}`` (Euclidean distance) from CSV, JSON, JSON lines or RecordIO-protobuf requests, as AWS's
container answers."""

from __future__ import annotations

from typing import Any

import numpy as np

from nimbus.engines.learn.builtin_io import encode_predictions, request_rows
from nimbus.engines.learn.kmeans_algorithm import squared_distances


class KMeansModel:
    def __init__(self, model: dict[str, Any]) -> None:
        self.centers = np.asarray(model["centers"], dtype=np.float64)

    def predict(self, body: bytes, content_type: str) -> np.ndarray:
        """Each record's squared distance to each center."""
        return squared_distances(request_rows(body, content_type, self.centers.shape[1]), self.centers)

    def encode(self, predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
        closest = predictions.argmin(axis=1)
        answers = [
            {"closest_cluster": int(cluster), "distance_to_cluster": float(np.sqrt(row[cluster]))}
            for cluster, row in zip(closest, predictions, strict=True)
        ]
        return encode_predictions(answers, accept)
