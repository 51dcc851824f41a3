"""The built-in PCA (principal component analysis) algorithm, run inside the sandbox as
``python -m nimbus.engines.learn.pca_algorithm``.

It reads AWS's hyperparameters and the ``train`` channel (required; a ``test`` channel is read and its
feature count checked, with no metric printed for it), as CSV without a label column or as
RecordIO-protobuf (labels ignored), and computes the components as AWS's two modes do:

- ``regular``: the covariance ``sum x_i^T x_i - (1/n) (sum x_i)^T (sum x_i)``, accumulated one
  ``mini_batch_size`` batch at a time, and its top ``num_components`` eigenvectors;
- ``randomized``: a randomized SVD (scikit-learn's ``randomized_svd``) of the centered data with
  ``num_components + extra_components`` columns in the random sketch (``extra_components`` -1: the
  larger of 10 and ``num_components``).

``subtract_mean`` false skips the mean: the components are then those of ``sum x_i^T x_i`` and
inference projects the records as they are.

The model (``model_algo-1``, JSON) holds the mean, the components and their singular values in AWS's
order: ascending, the most significant component last, so a projection's last value is the first
principal component (AWS's PCA orders its output so). Signs are arbitrary, as in any PCA.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from sklearn.utils.extmath import randomized_svd

from nimbus.engines.learn.builtin_io import (
    AlgorithmError,
    Hyperparameters,
    channels,
    check_feature_dim,
    load_channel,
    read_hyperparameters,
    run,
    save_model,
)

KNOWN = {
    "feature_dim",
    "mini_batch_size",
    "num_components",
    "algorithm_mode",
    "subtract_mean",
    "extra_components",
}
SEED = 0


class PCASettings:
    def __init__(self, values: dict[str, str]) -> None:
        hp = Hyperparameters(values, KNOWN)
        self.feature_dim = hp.integer("feature_dim")
        self.mini_batch_size = hp.integer("mini_batch_size")
        self.num_components = hp.integer("num_components")
        if self.num_components > self.feature_dim:
            raise AlgorithmError(
                f"Hyperparameter num_components: value {self.num_components} must be <= "
                f"feature_dim ({self.feature_dim})"
            )
        self.algorithm_mode = hp.choice("algorithm_mode", ("regular", "randomized"), "regular")
        self.subtract_mean = hp.flag("subtract_mean", True)
        extra = hp.integer("extra_components", -1, minimum=-1)
        self.extra_components = max(10, self.num_components) if extra == -1 else extra


def fit(settings: PCASettings, features: np.ndarray) -> dict[str, Any]:
    """The mean (zeros without ``subtract_mean``), components (rows) and singular values, ascending."""
    if len(features) < 2:
        raise AlgorithmError("The training data must hold at least 2 records")
    mean = features.mean(axis=0) if settings.subtract_mean else np.zeros(features.shape[1])
    if settings.algorithm_mode == "regular":
        scatter = np.zeros((features.shape[1], features.shape[1]))
        for start in range(0, len(features), settings.mini_batch_size):
            batch = features[start : start + settings.mini_batch_size]
            scatter += batch.T @ batch
        scatter -= len(features) * np.outer(mean, mean)
        eigenvalues, eigenvectors = np.linalg.eigh(scatter)  # ascending, as the model keeps them
        components = eigenvectors[:, -settings.num_components :].T
        singular_values = np.sqrt(np.maximum(eigenvalues[-settings.num_components :], 0.0))
    else:
        _, values, vectors = randomized_svd(
            features - mean,
            settings.num_components,
            n_oversamples=settings.extra_components,
            random_state=SEED,
        )
        components, singular_values = vectors[::-1], values[::-1]
    return {
        "algorithm": "pca",
        "mean": mean.tolist(),
        "components": components.tolist(),
        "singular_values": singular_values.tolist(),
    }


def project(model: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """Each record's projection on the components, least significant first."""
    return (features - np.asarray(model["mean"])) @ np.asarray(model["components"]).T


def train() -> None:
    settings = PCASettings(read_hyperparameters())
    data = {channel: load_channel(channel, kind, labelled=False)[0] for channel, kind in channels().items()}
    for channel, features in data.items():
        check_feature_dim(features, settings.feature_dim, channel)
    print(f"Training on {len(data['train'])} records of {settings.feature_dim} features", flush=True)
    model = fit(settings, data["train"])
    print(f"Singular values (ascending): {model['singular_values']}", flush=True)
    save_model(model)


if __name__ == "__main__":
    sys.exit(run(train))
