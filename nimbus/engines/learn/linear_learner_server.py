"""The built-in Linear Learner's inference: ``{"predictions": [{"score": ..., "predicted_label": ...}]}``
for classifiers (the score of a multiclass classifier is one probability a class), ``{"score": ...}``
for regressors, from CSV, JSON, JSON lines or RecordIO-protobuf requests, as AWS's container answers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nimbus.engines.learn.builtin_io import encode_predictions, request_rows
from nimbus.engines.learn.linear_learner_algorithm import predicted_labels, scores


class LinearLearnerModel:
    def __init__(self, model: dict[str, Any]) -> None:
        self.model = model
        self.feature_dim = len(model["mean"])

    def predict(self, body: bytes, content_type: str) -> np.ndarray:
        return scores(self.model, request_rows(body, content_type, self.feature_dim))

    def encode(self, predictions: np.ndarray, accept: str) -> tuple[bytes, str]:
        if self.model["predictor_type"] == "regressor":
            return encode_predictions([{"score": float(value)} for value in predictions], accept)
        labels = predicted_labels(self.model, predictions)
        answers = [
            {"score": score.tolist(), "predicted_label": int(label)}
            for score, label in zip(predictions, labels, strict=True)
        ]
        return encode_predictions(answers, accept)
