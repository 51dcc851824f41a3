"""The built-in Random Cut Forest (RCF) anomaly detector, run inside the sandbox as
``python -m nimbus.engines.learn.rcf_algorithm``.

It reads AWS's hyperparameters and the ``train`` channel (required), as CSV without a label column or
as RecordIO-protobuf (labels ignored), and grows a random cut forest (Guha et al., "Robust Random Cut
Forest Based Anomaly Detection on Streams", ICML 2016) with numpy:

- each of the ``num_trees`` trees gets its own uniform random sample of ``num_samples_per_tree``
  training records (what AWS's reservoir sampling of the stream yields; all records when fewer);
- a tree splits its records by a random cut: a dimension chosen with probability proportional to
  its range over the records, a cut value uniform in that range; it cuts again on both sides until
  each leaf holds one distinct point (its mass counts the duplicates).

The anomaly score of a point is AWS's (the scoring of its open-source ``randomcutforest`` library,
which approximates the collusive displacement of the paper): in each tree, from the leaf its path
reaches at depth ``d``, ``1 / (d + 1)`` (or, when the leaf holds the same point with mass ``m`` in a
tree of mass ``M``, ``(1 - m / 2M) / (d + log2(m + 1))``); going up, at each node of depth ``d`` the
probability ``p`` that a random cut of the node's bounding box extended by the point separates the
point gives ``score = p / (d + 1) + (1 - p) * score``. The tree's score, times ``log2(M + 1)``, is
averaged over the trees: around 1 or below for typical points, several times that for isolated ones.

With a ``test`` channel holding labels (RecordIO labels, or ``text/csv;label_size=1`` with the label
first; 1 an anomaly), it labels as anomalies the points scoring more than three standard deviations
above the mean test score (AWS's rule) and prints the ``eval_metrics``: ``test accuracy`` and
``test precision``, ``test recall``, ``test f1`` (of the anomaly class; AWS also prints the normal
class's, which Nimbus does not).

The model (``model_algo-1``, JSON) stores the forest compactly: the nodes of all trees in flat arrays
(cut dimension, -1 for a leaf; cut value; children; mass; leaf point) and the leaf points, each array
base64-encoded little-endian binary. Bounding boxes are recomputed from the leaves when it loads.
"""

from __future__ import annotations

import base64
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from nimbus.engines.learn import recordio
from nimbus.engines.learn.builtin_io import (
    AlgorithmError,
    Hyperparameters,
    channels,
    check_feature_dim,
    label_size,
    load_channel,
    print_metric,
    read_hyperparameters,
    run,
    save_model,
)

KNOWN = {"feature_dim", "num_trees", "num_samples_per_tree", "eval_metrics", "mini_batch_size"}
EVAL_METRICS = ("accuracy", "precision_recall_fscore")
SEED = 0
SCORING_CHUNK_VALUES = 2_000_000  # (rows x trees x features) scored at once: bounds the memory


class RCFSettings:
    def __init__(self, values: dict[str, str]) -> None:
        hp = Hyperparameters(values, KNOWN)
        self.feature_dim = hp.integer("feature_dim", maximum=10000)
        self.num_trees = hp.integer("num_trees", 100, minimum=50, maximum=1000)
        self.num_samples_per_tree = hp.integer("num_samples_per_tree", 256, maximum=2048)
        self.eval_metrics = hp.names("eval_metrics", EVAL_METRICS, EVAL_METRICS)
        hp.integer("mini_batch_size", 1000)


@dataclass
class Forest:
    """All trees' nodes in flat arrays; ``roots[t]`` is tree t's root, ``tree_mass[t]`` its sample size."""

    dimension: np.ndarray  # the cut's dimension; -1 for a leaf
    cut: np.ndarray
    left: np.ndarray  # records with value <= cut go left
    right: np.ndarray
    mass: np.ndarray  # records under the node
    point: np.ndarray  # a leaf's row in ``points``; -1 for a cut
    points: np.ndarray
    roots: np.ndarray
    tree_mass: np.ndarray

    def boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Each node's bounding box (lower and upper corners), from its leaves."""
        leaves = self.dimension < 0
        lower = np.zeros((len(self.dimension), self.points.shape[1]))
        lower[leaves] = self.points[self.point[leaves]]
        upper = lower.copy()
        levels = [self.roots]
        while len(levels[-1]):
            cuts = levels[-1][self.dimension[levels[-1]] >= 0]
            levels.append(np.concatenate([self.left[cuts], self.right[cuts]]))
        for level in reversed(levels[:-1]):  # the deepest cuts first: their children are done
            cuts = level[self.dimension[level] >= 0]
            left, right = self.left[cuts], self.right[cuts]
            lower[cuts] = np.minimum(lower[left], lower[right])
            upper[cuts] = np.maximum(upper[left], upper[right])
        return lower, upper


def grow(settings: RCFSettings, features: np.ndarray) -> Forest:
    rng = np.random.default_rng(SEED)
    nodes: dict[str, list[Any]] = {
        name: [] for name in ("dimension", "cut", "left", "right", "mass", "point")
    }
    points: list[np.ndarray] = []
    roots, tree_mass = [], []
    size = min(settings.num_samples_per_tree, len(features))
    for _ in range(settings.num_trees):
        sample = features[rng.choice(len(features), size=size, replace=False)]
        roots.append(len(nodes["dimension"]))
        tree_mass.append(size)
        pending = [(sample, len(nodes["dimension"]))]
        _add_node(nodes, len(sample))
        while pending:
            records, node = pending.pop()
            lower, upper = records.min(axis=0), records.max(axis=0)
            spans = upper - lower
            if not spans.any():  # one distinct point: a leaf
                nodes["point"][node] = len(points)
                points.append(records[0])
                continue
            # a dimension with probability proportional to its span, then a value uniform in it
            dimension = int(np.searchsorted(np.cumsum(spans), rng.random() * spans.sum(), side="right"))
            dimension = min(dimension, len(spans) - 1)
            cut = rng.uniform(lower[dimension], upper[dimension])
            goes_left = records[:, dimension] <= cut
            nodes["dimension"][node], nodes["cut"][node] = dimension, cut
            for side, part in (("left", records[goes_left]), ("right", records[~goes_left])):
                nodes[side][node] = len(nodes["dimension"])
                _add_node(nodes, len(part))
                pending.append((part, nodes[side][node]))
    return Forest(
        dimension=np.asarray(nodes["dimension"], dtype=np.int32),
        cut=np.asarray(nodes["cut"], dtype=np.float64),
        left=np.asarray(nodes["left"], dtype=np.int32),
        right=np.asarray(nodes["right"], dtype=np.int32),
        mass=np.asarray(nodes["mass"], dtype=np.int32),
        point=np.asarray(nodes["point"], dtype=np.int32),
        points=np.asarray(points, dtype=np.float64),
        roots=np.asarray(roots, dtype=np.int32),
        tree_mass=np.asarray(tree_mass, dtype=np.int32),
    )


def _add_node(nodes: dict[str, list[Any]], mass: int) -> None:
    for name, value in (
        ("dimension", -1),
        ("cut", 0.0),
        ("left", -1),
        ("right", -1),
        ("mass", mass),
        ("point", -1),
    ):
        nodes[name].append(value)


def scores(forest: Forest, boxes: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """The anomaly score of each row, in chunks of rows."""
    trees = len(forest.roots)
    chunk = max(1, SCORING_CHUNK_VALUES // (trees * rows.shape[1]))
    parts = [_scores(forest, boxes, rows[start : start + chunk]) for start in range(0, len(rows), chunk)]
    return np.concatenate(parts) if parts else np.zeros(0)


def _scores(forest: Forest, boxes: tuple[np.ndarray, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Every (row, tree) pair walks down its tree at once, then folds its score back up the path."""
    trees = len(forest.roots)
    row_of = np.repeat(np.arange(len(rows)), trees)
    tree_of = np.tile(np.arange(trees), len(rows))
    node = forest.roots[tree_of]
    depth = np.zeros(len(node), dtype=np.int64)
    path = [node]
    while True:
        inner = np.nonzero(forest.dimension[node] >= 0)[0]
        if not len(inner):
            break
        at = node[inner]
        goes_left = rows[row_of[inner], forest.dimension[at]] <= forest.cut[at]
        node = node.copy()
        node[inner] = np.where(goes_left, forest.left[at], forest.right[at])
        depth[inner] += 1
        path.append(node)
    mass, tree_mass = forest.mass[node], forest.tree_mass[tree_of].astype(np.float64)
    seen = np.all(forest.points[forest.point[node]] == rows[row_of], axis=1)
    score = np.where(seen, (1 - mass / (2 * tree_mass)) / (depth + np.log2(mass + 1.0)), 1.0 / (depth + 1.0))
    lower, upper = boxes
    for level in range(len(path) - 2, -1, -1):
        above = np.nonzero(depth > level)[0]  # the pairs whose path passes a cut at this depth
        at, point = path[level][above], rows[row_of[above]]
        span = (upper[at] - lower[at]).sum(axis=1)
        extended = (np.maximum(upper[at], point) - np.minimum(lower[at], point)).sum(axis=1)
        separation = np.where(extended > 0, (extended - span) / np.where(extended > 0, extended, 1.0), 0.0)
        score[above] = separation / (level + 1.0) + (1 - separation) * score[above]
    return (score * np.log2(tree_mass + 1)).reshape(len(rows), trees).mean(axis=1)


def to_model(forest: Forest) -> dict[str, Any]:
    arrays = {name: _pack(getattr(forest, name)) for name in Forest.__dataclass_fields__}
    return {"algorithm": "randomcutforest", "feature_dim": int(forest.points.shape[1])} | arrays


def from_model(model: dict[str, Any]) -> Forest:
    return Forest(**{name: _unpack(model[name]) for name in Forest.__dataclass_fields__})


def _pack(array: np.ndarray) -> dict[str, Any]:
    little = array.astype(array.dtype.newbyteorder("<"))
    return {
        "dtype": little.dtype.str,
        "shape": list(array.shape),
        "data": base64.b64encode(little.tobytes()).decode(),
    }


def _unpack(packed: dict[str, Any]) -> np.ndarray:
    data = np.frombuffer(base64.b64decode(packed["data"]), dtype=np.dtype(packed["dtype"]))
    return data.reshape(packed["shape"]).astype(data.dtype.newbyteorder("="))


def labelled_test_channel(content_type: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``test`` channel's features and labels (it must have labels: it is scored)."""
    if content_type != recordio.CONTENT_TYPE and label_size("test") != 1:
        raise AlgorithmError("Channel 'test' must hold labels: use text/csv;label_size=1 (label first)")
    features, labels = load_channel("test", content_type, labelled=True)
    assert labels is not None
    return features, labels


def print_test_metrics(settings: RCFSettings, values: np.ndarray, labels: np.ndarray) -> None:
    """AWS's three-sigma rule: a point is an anomaly when its score is above mean + 3 std."""
    predicted = values > values.mean() + 3 * values.std()
    truth = labels > 0.5
    if "accuracy" in settings.eval_metrics:
        print_metric("test", "accuracy", "score", float(np.mean(predicted == truth)))
    if "precision_recall_fscore" in settings.eval_metrics:
        hits = float(np.sum(predicted & truth))
        precision = hits / predicted.sum() if predicted.any() else 0.0
        recall = hits / truth.sum() if truth.any() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        print_metric("test", "precision", "score", precision)
        print_metric("test", "recall", "score", recall)
        print_metric("test", "f1", "score", f1)


def train() -> None:
    settings = RCFSettings(read_hyperparameters())
    kinds = channels()
    features = load_channel("train", kinds["train"], labelled=False)[0]
    check_feature_dim(features, settings.feature_dim, "train")
    test = labelled_test_channel(kinds["test"]) if "test" in kinds else None
    if test is not None:
        check_feature_dim(test[0], settings.feature_dim, "test")
    print(f"Training on {len(features)} records of {settings.feature_dim} features", flush=True)
    forest = grow(settings, features)
    print(f"Grew {settings.num_trees} trees of {forest.tree_mass[0]} samples each", flush=True)
    if test is not None:
        print_test_metrics(settings, scores(forest, forest.boxes(), test[0]), test[1])
    save_model(to_model(forest))


if __name__ == "__main__":
    sys.exit(run(train))
