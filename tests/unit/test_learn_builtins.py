"""The PCA, k-NN and Random Cut Forest engines without a server: the modes and metrics the end-to-end
tests do not reach, and the shared parsing they rely on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from nimbus.engines.learn import builtin_io, knn_algorithm, pca_algorithm, rcf_algorithm


def test_randomized_pca_finds_the_regular_components() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 8)) @ (rng.normal(size=(8, 8)) * np.linspace(4, 0.1, 8)[:, None])
    settings = {"feature_dim": "8", "mini_batch_size": "64", "num_components": "3"}
    regular = pca_algorithm.fit(pca_algorithm.PCASettings(settings), features)
    randomized = pca_algorithm.fit(
        pca_algorithm.PCASettings(settings | {"algorithm_mode": "randomized"}), features
    )
    expected = PCA(n_components=3).fit(features).transform(features)[:, ::-1]
    for model in (regular, randomized):
        projected = pca_algorithm.project(model, features)
        np.testing.assert_allclose(np.abs(projected), np.abs(expected), rtol=1e-6, atol=1e-6)
    assert regular["singular_values"] == sorted(regular["singular_values"])  # AWS's order: ascending


def test_pca_without_subtract_mean_projects_the_raw_records() -> None:
    features = np.random.default_rng(1).normal(size=(100, 4)) + 10
    settings = {"feature_dim": "4", "mini_batch_size": "10", "num_components": "1", "subtract_mean": "False"}
    model = pca_algorithm.fit(pca_algorithm.PCASettings(settings), features)
    assert model["mean"] == [0.0] * 4
    top = np.linalg.svd(features, full_matrices=False)[2][0]  # the uncentered second moment's top vector
    np.testing.assert_allclose(np.abs(model["components"][0]), np.abs(top), atol=1e-8)


@pytest.mark.parametrize("metric", ["COSINE", "INNER_PRODUCT"])
def test_knn_similarity_metrics_find_the_most_similar(metric: str) -> None:
    rng = np.random.default_rng(2)
    sample, queries = rng.normal(size=(60, 5)), rng.normal(size=(7, 5))
    settings = knn_algorithm.KNNSettings(
        {
            "feature_dim": "5",
            "k": "4",
            "predictor_type": "regressor",
            "sample_size": "60",
            "index_metric": metric,
        }
    )
    labels = np.arange(60, dtype=float)
    model = knn_algorithm.fit(settings, sample, labels)
    similarities, neighbor_labels = knn_algorithm.neighbors(model, queries)
    if metric == "COSINE":
        expected = NearestNeighbors(n_neighbors=4, metric="cosine").fit(sample).kneighbors(queries)[1]
    else:
        expected = np.argsort(-(queries @ sample.T), axis=1)[:, :4]
    np.testing.assert_array_equal(neighbor_labels, expected)
    assert np.all(np.diff(similarities, axis=1) <= 0)  # the most similar first
    np.testing.assert_allclose(knn_algorithm.predict(model, neighbor_labels), expected.mean(axis=1))


@pytest.mark.parametrize("kind", ["sign", "fjlt"])
def test_knn_dimension_reduction_keeps_distances_roughly(kind: str) -> None:
    rng = np.random.default_rng(3)
    projection = knn_algorithm.reduction_matrix(kind, 64, 48, rng)
    assert projection.shape == (64, 48)
    points = rng.normal(size=(40, 64))
    before = np.linalg.norm(points[:, None] - points[None], axis=2)[np.triu_indices(40, 1)]
    after = np.linalg.norm((points @ projection)[:, None] - (points @ projection)[None], axis=2)
    ratio = after[np.triu_indices(40, 1)] / before
    assert ratio.min() > 0.6 and ratio.max() < 1.4 and abs(ratio.mean() - 1) < 0.1


def test_knn_refuses_what_aws_refuses() -> None:
    base = {"feature_dim": "4", "k": "3", "predictor_type": "classifier", "sample_size": "10"}
    for extra, message in (
        ({"dimension_reduction_type": "sign"}, "Missing required hyperparameter: dimension_reduction_target"),
        ({"dimension_reduction_type": "sign", "dimension_reduction_target": "4"}, "must be <= 3"),
        (
            {"index_type": "faiss.IVFPQ", "index_metric": "COSINE"},
            "not supported with index_type faiss.IVFPQ",
        ),
        ({"faiss_index_pq_m": "5"}, "faiss_index_pq_m"),
    ):
        with pytest.raises(builtin_io.AlgorithmError, match=message):
            knn_algorithm.KNNSettings(base | extra)


def test_random_cut_forest_scores_survive_the_model_file() -> None:
    rng = np.random.default_rng(4)
    normal = rng.normal(size=(500, 2))
    settings = rcf_algorithm.RCFSettings(
        {"feature_dim": "2", "num_trees": "50", "num_samples_per_tree": "128"}
    )
    forest = rcf_algorithm.grow(settings, normal)
    loaded = rcf_algorithm.from_model(json.loads(json.dumps(rcf_algorithm.to_model(forest))))
    queries = np.vstack([normal[:20], [[8.0, 8.0], [-7.0, 5.0]]])
    scores = rcf_algorithm.scores(loaded, loaded.boxes(), queries)
    np.testing.assert_array_equal(scores, rcf_algorithm.scores(forest, forest.boxes(), queries))
    assert scores[20:].min() > 2 * scores[:20].max()
    assert loaded.tree_mass.tolist() == [128] * 50 and loaded.mass[loaded.roots].tolist() == [128] * 50


def test_random_cut_forest_three_sigma_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    settings = rcf_algorithm.RCFSettings({"feature_dim": "1", "eval_metrics": "['precision_recall_fscore']"})
    scores = np.r_[np.ones(99), 10.0]
    rcf_algorithm.print_test_metrics(settings, scores, np.r_[np.zeros(98), 1.0, 1.0])
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "#quality_metric: host=algo-1, test precision <score>=1",
        "#quality_metric: host=algo-1, test recall <score>=0.5",
        "#quality_metric: host=algo-1, test f1 <score>=0.666667",
    ]


def test_shared_parsing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = builtin_io.Hyperparameters({"m": '["a", "b"]', "n": "['b']", "o": "a,b"}, ["m", "n", "o"])
    assert [names.names(name, "ab", []) for name in "mno"] == [["a", "b"], ["b"], ["a", "b"]]
    with pytest.raises(builtin_io.AlgorithmError):
        builtin_io.Hyperparameters({"m": "['c']"}, ["m"]).names("m", "ab", [])
    rows = builtin_io.request_rows(
        b'{"instances": [{"data": {"features": {"values": [1, 2]}}}, {"features": [3, 4]}]}',
        "application/json",
        2,
    )
    np.testing.assert_array_equal(rows, [[1, 2], [3, 4]])
    (tmp_path / "input" / "config").mkdir(parents=True)
    (tmp_path / "input" / "config" / "inputdataconfig.json").write_text(
        json.dumps({"test": {"ContentType": "text/csv; label_size=1"}, "train": {}})
    )
    monkeypatch.setattr(builtin_io, "ML_ROOT", tmp_path)
    assert (builtin_io.label_size("test"), builtin_io.label_size("train")) == (1, 0)
