"""The built-in k-NN (k-nearest neighbors) algorithm, run inside the sandbox as
``python -m nimbus.engines.learn.knn_algorithm``.

It reads AWS's hyperparameters and the ``train`` (required) and ``test`` channels, as CSV with the
label first or as RecordIO-protobuf with labels, and builds AWS's model in its three steps:

1. a uniform random sample of ``sample_size`` training records (all of them when there are fewer);
2. with ``dimension_reduction_type``, a random linear map to ``dimension_reduction_target``
   dimensions: ``sign`` a random +-1 matrix, ``fjlt`` the fast Johnson-Lindenstrauss transform
   (random signs, a Walsh-Hadamard transform over the dimensions padded to a power of 2, a random
   choice of the target coordinates), each scaled to keep distances in expectation;
3. the index: the (reduced) sample and its labels, saved in ``model_algo-1`` (JSON).

Inference finds each record's ``k`` nearest sampled records by ``index_metric`` (L2: Euclidean
distance; COSINE: cosine similarity; INNER_PRODUCT: inner product) and predicts their most frequent
label (ties: the smallest label) for a ``classifier``, their mean label for a ``regressor``. With a
``test`` channel it prints ``test accuracy`` (classifier) or ``test mse`` (regressor), AWS's metrics.

Where Nimbus differs from AWS: the search is always exact (brute force). ``index_type``
``faiss.IVFFlat`` and ``faiss.IVFPQ`` and their ``faiss_index_ivf_nlists`` / ``faiss_index_pq_m`` are
validated as AWS does but give the same exact search as ``faiss.Flat``, so answers are never less
accurate than AWS's approximate ones, only slower on very large samples.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from scipy.linalg import hadamard

from nimbus.engines.learn.builtin_io import (
    AlgorithmError,
    Hyperparameters,
    channels,
    check_feature_dim,
    load_channel,
    print_metric,
    read_hyperparameters,
    run,
    save_model,
)

KNOWN = {
    "feature_dim",
    "k",
    "predictor_type",
    "sample_size",
    "dimension_reduction_type",
    "dimension_reduction_target",
    "index_type",
    "index_metric",
    "faiss_index_ivf_nlists",
    "faiss_index_pq_m",
    "mini_batch_size",
}
INDEX_TYPES = ("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ")
INDEX_METRICS = ("L2", "INNER_PRODUCT", "COSINE")
PQ_M = (1, 2, 3, 4, 8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 96)
SEED = 0


class KNNSettings:
    def __init__(self, values: dict[str, str]) -> None:
        hp = Hyperparameters(values, KNOWN)
        self.feature_dim = hp.integer("feature_dim")
        self.k = hp.integer("k")
        self.predictor_type = hp.choice("predictor_type", ("classifier", "regressor"))
        self.sample_size = hp.integer("sample_size")
        self.reduction = hp.values.get("dimension_reduction_type")
        self.target: int | None = None
        if self.reduction is not None:
            hp.choice("dimension_reduction_type", ("sign", "fjlt"))
            self.target = hp.integer("dimension_reduction_target", maximum=self.feature_dim - 1)
        elif "dimension_reduction_target" in hp.values:
            raise AlgorithmError(
                "Hyperparameter dimension_reduction_target needs dimension_reduction_type (sign or fjlt)"
            )
        self.index_type = hp.choice("index_type", INDEX_TYPES, "faiss.Flat")
        self.index_metric = hp.choice("index_metric", INDEX_METRICS, "L2")
        if self.index_type == "faiss.IVFPQ" and self.index_metric != "L2":
            raise AlgorithmError(
                f"index_metric {self.index_metric} is not supported with index_type faiss.IVFPQ"
            )
        if hp.values.get("faiss_index_ivf_nlists", "auto") != "auto":
            hp.integer("faiss_index_ivf_nlists")
        if "faiss_index_pq_m" in hp.values and hp.integer("faiss_index_pq_m") not in PQ_M:
            raise AlgorithmError(
                f"Hyperparameter faiss_index_pq_m: {hp.values['faiss_index_pq_m']!r} is not one of "
                + ", ".join(map(str, PQ_M))
            )
        hp.integer("mini_batch_size", 5000)


def reduction_matrix(kind: str, feature_dim: int, target: int, rng: np.random.Generator) -> np.ndarray:
    """The ``feature_dim x target`` map of ``sign`` or ``fjlt`` reduction."""
    if kind == "sign":
        return rng.choice([-1.0, 1.0], size=(feature_dim, target)) / np.sqrt(target)
    padded = 1 << (feature_dim - 1).bit_length()
    signs = rng.choice([-1.0, 1.0], size=feature_dim)
    transform = signs[:, None] * hadamard(padded)[:feature_dim] / np.sqrt(padded)
    chosen = rng.choice(padded, size=target, replace=False)
    return transform[:, chosen] * np.sqrt(padded / target)


def fit(settings: KNNSettings, features: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    if len(features) > settings.sample_size:
        chosen = np.sort(rng.choice(len(features), size=settings.sample_size, replace=False))
        features, labels = features[chosen], labels[chosen]
    if settings.k > len(features):
        raise AlgorithmError(f"k ({settings.k}) is larger than the sample ({len(features)} records)")
    if settings.predictor_type == "classifier" and not np.all(labels == np.round(labels)):
        raise AlgorithmError("Labels must be integers for predictor_type classifier")
    projection = None
    if settings.reduction is not None:
        assert settings.target is not None
        projection = reduction_matrix(settings.reduction, settings.feature_dim, settings.target, rng)
        features = features @ projection
    return {
        "algorithm": "knn",
        "k": settings.k,
        "predictor_type": settings.predictor_type,
        "index_metric": settings.index_metric,
        "feature_dim": settings.feature_dim,
        "projection": None if projection is None else projection.tolist(),
        "sample": features.tolist(),
        "labels": labels.tolist(),
    }


def neighbors(model: dict[str, Any], features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest sampled records of each row, nearest first: their distances (L2) or
    similarities (COSINE, INNER_PRODUCT), and their labels."""
    sample = np.asarray(model["sample"], dtype=np.float64)
    if model["projection"] is not None:
        features = features @ np.asarray(model["projection"])
    k = model["k"]
    if model["index_metric"] == "L2":
        squared = (features**2).sum(axis=1)[:, None] - 2 * features @ sample.T + (sample**2).sum(axis=1)
        order = nearest(squared, k)
        distances = np.sqrt(np.maximum(np.take_along_axis(squared, order, axis=1), 0.0))
    else:
        if model["index_metric"] == "COSINE":
            features = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-30)
            sample = sample / np.maximum(np.linalg.norm(sample, axis=1, keepdims=True), 1e-30)
        similarity = features @ sample.T
        order = nearest(-similarity, k)
        distances = np.take_along_axis(similarity, order, axis=1)
    return distances, np.asarray(model["labels"], dtype=np.float64)[order]


def nearest(cost: np.ndarray, k: int) -> np.ndarray:
    """The columns of the ``k`` smallest costs of each row, smallest first (ties: the first column)."""
    part = np.argpartition(cost, k - 1, axis=1)[:, :k] if k < cost.shape[1] else np.indices(cost.shape)[1]
    costs = np.take_along_axis(cost, part, axis=1)
    return np.take_along_axis(part, np.lexsort((part, costs), axis=1), axis=1)


def predict(model: dict[str, Any], labels: np.ndarray) -> np.ndarray:
    """The predicted label of each row of neighbor labels."""
    if model["predictor_type"] == "regressor":
        return labels.mean(axis=1)
    predicted = []
    for row in labels:
        values, counts = np.unique(row, return_counts=True)  # sorted: argmax picks the smallest of ties
        predicted.append(values[counts.argmax()])
    return np.asarray(predicted)


def train() -> None:
    settings = KNNSettings(read_hyperparameters())
    data = {
        channel: load_channel(channel, content_type, labelled=True)
        for channel, content_type in channels().items()
    }
    for channel, (features, _) in data.items():
        check_feature_dim(features, settings.feature_dim, channel)
    features, labels = data["train"]
    print(f"Training on {len(features)} records of {settings.feature_dim} features", flush=True)
    model = fit(settings, features, labels)  # type: ignore[arg-type]
    print(
        f"Index of {len(model['sample'])} sampled records ({settings.index_type}, exact search)", flush=True
    )
    if "test" in data:
        test_features, test_labels = data["test"]
        predicted = predict(model, neighbors(model, test_features)[1])
        if settings.predictor_type == "classifier":
            print_metric("test", "accuracy", "score", float(np.mean(predicted == test_labels)))
        else:
            print_metric("test", "mse", "loss", float(np.mean((predicted - test_labels) ** 2)))
    save_model(model)


if __name__ == "__main__":
    sys.exit(run(train))
