"""The built-in K-Means algorithm, run inside the sandbox as
``python -m nimbus.engines.learn.kmeans_algorithm``.

It reads AWS's hyperparameters and the ``train`` (required) and ``test`` channels, as CSV without a
label or as RecordIO-protobuf (labels ignored), and follows AWS's two stages with scikit-learn:

1. streaming mini-batch k-means (``MiniBatchKMeans.partial_fit``, ``epochs`` passes of
   ``mini_batch_size`` shuffled records) finds ``k * extra_center_factor`` centers;
2. when there are more centers than ``k``, a local Lloyd's k-means (``KMeans``) reduces them to
   ``k``, each center weighted by the training records closest to it.

It prints ``#quality_metric: host=algo-1, epoch=<n>, train msd <loss>=...`` after each pass, the
final ``train msd`` and, with a ``test`` channel, the ``eval_metrics`` (``msd``, ``ssd``) on it, and
saves the centers as ``/opt/ml/model/model_algo-1``.

Where Nimbus differs from AWS: ``extra_center_factor`` ``auto`` is 1 (AWS picks a larger factor from
the data size); ``local_lloyd_num_trials`` ``auto`` is 1; ``half_life_time_size`` (AWS's
exponential forgetting of old mini-batches) is accepted with no effect, scikit-learn's per-center
learning rate being used instead; the model file is JSON, not MXNet parameters.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

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
    "k",
    "feature_dim",
    "init_method",
    "epochs",
    "mini_batch_size",
    "extra_center_factor",
    "local_lloyd_max_iter",
    "local_lloyd_tol",
    "local_lloyd_init_method",
    "local_lloyd_num_trials",
    "eval_metrics",
    "half_life_time_size",
    "force_dense",
}
INIT_METHODS = {"random": "random", "kmeans++": "k-means++"}
SEED = 0


class KMeansSettings:
    def __init__(self, values: dict[str, str]) -> None:
        hp = Hyperparameters(values, KNOWN)
        self.k = hp.integer("k", minimum=2)
        self.feature_dim = hp.integer("feature_dim")
        self.init = INIT_METHODS[hp.choice("init_method", INIT_METHODS, "random")]
        self.epochs = hp.integer("epochs", 1)
        self.mini_batch_size = hp.integer("mini_batch_size", 5000)
        factor = hp.values.get("extra_center_factor", "auto")
        self.extra_center_factor = 1 if factor == "auto" else hp.integer("extra_center_factor")
        self.lloyd_max_iter = hp.integer("local_lloyd_max_iter", 300)
        self.lloyd_tol = hp.number("local_lloyd_tol", 1e-4)
        self.lloyd_init = INIT_METHODS[hp.choice("local_lloyd_init_method", INIT_METHODS, "kmeans++")]
        trials = hp.values.get("local_lloyd_num_trials", "auto")
        self.lloyd_trials = 1 if trials == "auto" else hp.integer("local_lloyd_num_trials")
        hp.integer("half_life_time_size", 0, minimum=0)
        hp.flag("force_dense", True)  # the SDK always sends it; Nimbus reads every record dense
        self.eval_metrics = eval_metrics(hp.values.get("eval_metrics", '["msd"]'))


def eval_metrics(text: str) -> list[str]:
    try:
        names = json.loads(text.replace("'", '"'))
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not names or not set(names) <= {"msd", "ssd"}:
        raise AlgorithmError(f'Hyperparameter eval_metrics: {text!r} is not a list of "msd" and "ssd"')
    return names


def squared_distances(features: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Each record's squared distance to each center (rows: records)."""
    return np.maximum(
        (features**2).sum(axis=1)[:, None] - 2 * features @ centers.T + (centers**2).sum(axis=1)[None, :], 0.0
    )


def fit(settings: KMeansSettings, features: np.ndarray) -> np.ndarray:
    """The ``k`` centers, printing the mean squared distance after each pass."""
    count = settings.k * settings.extra_center_factor
    if len(features) < count:
        raise AlgorithmError(f"The training data holds {len(features)} records, fewer than {count} centers")
    batch = max(settings.mini_batch_size, count)
    streaming = MiniBatchKMeans(n_clusters=count, init=settings.init, batch_size=batch, random_state=SEED)
    order = np.random.default_rng(SEED)
    for epoch in range(settings.epochs):
        shuffled = features[order.permutation(len(features))]
        for start in range(0, len(shuffled), batch):
            part = shuffled[start : start + batch]
            if len(part) >= count:  # a short last batch is skipped (the first one never is)
                streaming.partial_fit(part)
        msd = squared_distances(features, streaming.cluster_centers_).min(axis=1).mean()
        print_metric("train", "msd", "loss", msd, epoch=epoch)
    centers = streaming.cluster_centers_
    if count == settings.k:
        return centers
    weights = np.bincount(squared_distances(features, centers).argmin(axis=1), minlength=count)
    lloyd = KMeans(
        n_clusters=settings.k,
        init=settings.lloyd_init,
        n_init=settings.lloyd_trials,
        max_iter=settings.lloyd_max_iter,
        tol=settings.lloyd_tol,
        random_state=SEED,
    )
    return lloyd.fit(centers, sample_weight=weights + 1e-12).cluster_centers_


def train() -> None:
    settings = KMeansSettings(read_hyperparameters())
    data = {channel: load_channel(channel, kind, labelled=False)[0] for channel, kind in channels().items()}
    for channel, features in data.items():
        check_feature_dim(features, settings.feature_dim, channel)
    print(f"Training on {len(data['train'])} records of {settings.feature_dim} features", flush=True)
    centers = fit(settings, data["train"])
    closest = squared_distances(data["train"], centers).min(axis=1)
    print_metric("train", "msd", "loss", closest.mean())
    if "test" in data:
        closest = squared_distances(data["test"], centers).min(axis=1)
        for name in settings.eval_metrics:
            print_metric("test", name, "loss", closest.mean() if name == "msd" else closest.sum())
    save_model({"algorithm": "kmeans", "k": settings.k, "centers": centers.tolist()})


if __name__ == "__main__":
    sys.exit(run(train))
