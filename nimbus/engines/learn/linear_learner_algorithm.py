"""The built-in Linear Learner algorithm, run inside the sandbox as
``python -m nimbus.engines.learn.linear_learner_algorithm``.

It reads AWS's hyperparameters and the ``train`` (required), ``validation`` and ``test`` channels, as
CSV with the label first or as RecordIO-protobuf, trains a linear model with scikit-learn, prints
``#quality_metric`` lines as AWS's algorithm does, and saves ``/opt/ml/model/model_algo-1``.

Where Nimbus differs from AWS:

- AWS trains ``num_models`` models in parallel with SGD/Adam over ``epochs`` mini-batch passes
  (different learning rates and regularization when those are ``auto``) and keeps the best on the
  validation channel. Nimbus fits one model to convergence with a deterministic solver for the same
  regularized objective, ``mean loss + l1 * |w|_1 + wd / 2 * |w|^2`` on the normalized data:
  binary and multiclass classifiers with ``LogisticRegression`` (lbfgs, or saga when ``l1`` > 0),
  regressors with ``Ridge`` (or ``ElasticNet`` when ``l1`` > 0). ``auto`` means ``wd`` = 1e-4 and
  ``l1`` = 0, and the binary threshold is 0.5 (AWS tunes it by
  ``binary_classifier_model_selection_criteria``).
- ``epochs``, ``mini_batch_size`` and ``learning_rate`` are validated but have no effect, nor have
  the optimizer's other knobs (``optimizer``, ``momentum``, ``beta_1``, ``lr_scheduler_*``, ...).
- Only the loss of each predictor type is trained: ``logistic`` (binary), ``softmax_loss``
  (multiclass) and ``squared_loss`` (regressor); others are refused.
- Metrics are printed once a channel, for the final model, with no ``epoch=`` part.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    fbeta_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    recall_score,
    roc_auc_score,
)

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

PREDICTOR_TYPES = ("binary_classifier", "multiclass_classifier", "regressor")
LOSSES = {
    "binary_classifier": "logistic",
    "multiclass_classifier": "softmax_loss",
    "regressor": "squared_loss",
}
DEFAULT_WD = 1e-4
USED = {
    "predictor_type",
    "feature_dim",
    "num_classes",
    "epochs",
    "mini_batch_size",
    "learning_rate",
    "l1",
    "wd",
    "normalize_data",
    "normalize_label",
    "use_bias",
    "loss",
    "positive_example_weight_mult",
    "balance_multiclass_weights",
    "f_beta",
}
NO_EFFECT = {
    "accuracy_top_k",
    "beta_1",
    "beta_2",
    "bias_lr_mult",
    "bias_wd_mult",
    "binary_classifier_model_selection_criteria",
    "early_stopping_patience",
    "early_stopping_tolerance",
    "huber_delta",
    "init_bias",
    "init_method",
    "init_scale",
    "init_sigma",
    "loss_insensitivity",
    "lr_scheduler_factor",
    "lr_scheduler_minimum_lr",
    "lr_scheduler_step",
    "margin",
    "momentum",
    "num_calibration_samples",
    "num_models",
    "num_point_for_scaler",
    "optimizer",
    "quantile",
    "target_precision",
    "target_recall",
    "unbias_data",
    "unbias_label",
    "use_lr_scheduler",
}


class LinearLearnerSettings:
    """The hyperparameters, validated and typed."""

    def __init__(self, values: dict[str, str]) -> None:
        hp = Hyperparameters(values, USED | NO_EFFECT)
        self.predictor_type = hp.choice("predictor_type", PREDICTOR_TYPES)
        dim = hp.values.get("feature_dim", "auto")
        self.feature_dim = None if dim == "auto" else hp.integer("feature_dim")
        self.num_classes = hp.integer("num_classes", 2, minimum=2)
        if self.predictor_type == "multiclass_classifier":
            self.num_classes = hp.integer("num_classes", minimum=3)
        hp.integer("epochs", 15)
        hp.integer("mini_batch_size", 1000)
        hp.number("learning_rate", 0.0)
        self.l1 = hp.number("l1", 0.0)
        self.wd = hp.number("wd", DEFAULT_WD)
        self.normalize_data = hp.flag("normalize_data", True)
        self.normalize_label = hp.flag("normalize_label", self.predictor_type == "regressor")
        self.use_bias = hp.flag("use_bias", True)
        hp.choice("loss", ("auto", LOSSES[self.predictor_type]), "auto")
        weight = hp.values.get("positive_example_weight_mult", "1.0")
        self.class_weight: dict[int, float] | str | None = (
            "balanced"
            if weight in ("balanced", "auto")
            else {1: hp.number("positive_example_weight_mult", 1.0)}
        )
        if self.predictor_type == "multiclass_classifier":
            self.class_weight = "balanced" if hp.flag("balance_multiclass_weights", False) else None
        self.f_beta = hp.number("f_beta", 1.0)


def fit(settings: LinearLearnerSettings, features: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """The trained model: normalization, weights and bias, as ``model_algo-1`` stores them."""
    mean = features.mean(axis=0) if settings.normalize_data else np.zeros(features.shape[1])
    scale = features.std(axis=0) if settings.normalize_data else np.ones(features.shape[1])
    scale[scale == 0] = 1.0
    normalized = (features - mean) / scale
    label_mean, label_scale = 0.0, 1.0
    if settings.predictor_type == "regressor":
        if settings.normalize_label:
            label_mean, label_scale = float(labels.mean()), float(labels.std() or 1.0)
        estimator = regressor(settings, len(labels)).fit(normalized, (labels - label_mean) / label_scale)
        coef, intercept = np.atleast_2d(estimator.coef_), np.atleast_1d(estimator.intercept_)
    else:
        check_classes(labels, settings.num_classes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator = classifier(settings, len(labels)).fit(normalized, labels.astype(int))
        coef, intercept = estimator.coef_, np.broadcast_to(estimator.intercept_, len(estimator.coef_))
    return {
        "algorithm": "linear-learner",
        "predictor_type": settings.predictor_type,
        "num_classes": settings.num_classes,
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": coef.tolist(),
        "intercept": np.asarray(intercept, dtype=float).tolist(),
        "label_mean": label_mean,
        "label_scale": label_scale,
        "threshold": 0.5,
    }


def classifier(settings: LinearLearnerSettings, count: int) -> LogisticRegression:
    strength = settings.l1 + settings.wd
    if strength == 0:
        return LogisticRegression(
            C=np.inf, fit_intercept=settings.use_bias, class_weight=settings.class_weight, max_iter=2000
        )
    if settings.l1 == 0:
        return LogisticRegression(
            C=1 / (count * strength),
            fit_intercept=settings.use_bias,
            class_weight=settings.class_weight,
            max_iter=2000,
        )
    return LogisticRegression(
        C=1 / (count * strength),
        l1_ratio=settings.l1 / strength,
        solver="saga",
        fit_intercept=settings.use_bias,
        class_weight=settings.class_weight,
        max_iter=5000,
    )


def regressor(settings: LinearLearnerSettings, count: int) -> Ridge | ElasticNet:
    if settings.l1 == 0:
        return Ridge(alpha=count * settings.wd, fit_intercept=settings.use_bias)
    strength = settings.l1 + settings.wd
    return ElasticNet(alpha=strength, l1_ratio=settings.l1 / strength, fit_intercept=settings.use_bias)


def check_classes(labels: np.ndarray, num_classes: int) -> None:
    if not np.all((labels == np.round(labels)) & (labels >= 0) & (labels < num_classes)):
        raise AlgorithmError(f"Labels must be integers from 0 to {num_classes - 1} for this predictor_type")
    if len(np.unique(labels)) < 2:
        raise AlgorithmError("The training data holds only one class")


def scores(model: dict[str, Any], features: np.ndarray) -> np.ndarray:
    """Binary: P(label 1); multiclass: one probability a class (rows); regressor: the prediction."""
    linear = ((features - model["mean"]) / model["scale"]) @ np.asarray(model["coef"]).T + model["intercept"]
    if model["predictor_type"] == "binary_classifier":
        return 1 / (1 + np.exp(-linear[:, 0]))
    if model["predictor_type"] == "multiclass_classifier":
        exp = np.exp(linear - linear.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)
    return linear[:, 0] * model["label_scale"] + model["label_mean"]


def predicted_labels(model: dict[str, Any], values: np.ndarray) -> np.ndarray:
    if model["predictor_type"] == "binary_classifier":
        return (values > model["threshold"]).astype(int)
    return values.argmax(axis=1)


def print_metrics(settings: LinearLearnerSettings, model: dict[str, Any], channel: str, data: Any) -> None:
    features, labels = data
    values = scores(model, features)
    kind = settings.predictor_type
    if kind == "regressor":
        mse = mean_squared_error(labels, values)
        print_metric(channel, "squared_loss_objective", "loss", mse / 2)
        print_metric(channel, "mse", "loss", mse)
        print_metric(channel, "rmse", "loss", float(np.sqrt(mse)))
        print_metric(channel, "absolute_loss", "loss", mean_absolute_error(labels, values))
        return
    truth, predicted = labels.astype(int), predicted_labels(model, values)
    if kind == "binary_classifier":
        print_metric(
            channel,
            "binary_classification_cross_entropy_objective",
            "loss",
            log_loss(truth, values, labels=[0, 1]),
        )
        print_metric(channel, "binary_classification_accuracy", "score", accuracy_score(truth, predicted))
        print_metric(channel, "precision", "score", precision_score(truth, predicted, zero_division=0))
        print_metric(channel, "recall", "score", recall_score(truth, predicted, zero_division=0))
        f_beta = fbeta_score(truth, predicted, beta=settings.f_beta, zero_division=0)
        print_metric(channel, "binary_f_beta", "score", f_beta)
        if len(np.unique(truth)) == 2:
            print_metric(channel, "roc_auc_score", "score", roc_auc_score(truth, values))
        return
    classes = list(range(settings.num_classes))
    print_metric(
        channel, "multiclass_cross_entropy_objective", "loss", log_loss(truth, values, labels=classes)
    )
    print_metric(channel, "multiclass_accuracy", "score", accuracy_score(truth, predicted))
    for name, metric in (("macro_precision", precision_score), ("macro_recall", recall_score)):
        print_metric(channel, name, "score", metric(truth, predicted, average="macro", zero_division=0))
    macro_f = fbeta_score(truth, predicted, beta=settings.f_beta, average="macro", zero_division=0)
    print_metric(channel, "macro_f_beta", "score", macro_f)


def train() -> None:
    settings = LinearLearnerSettings(read_hyperparameters())
    data = {
        channel: load_channel(channel, content_type, labelled=True)
        for channel, content_type in channels().items()
    }
    for channel, (features, _) in data.items():
        check_feature_dim(features, settings.feature_dim or data["train"][0].shape[1], channel)
    features, labels = data["train"]
    print(f"Training on {features.shape[0]} records of {features.shape[1]} features", flush=True)
    model = fit(settings, features, labels)  # type: ignore[arg-type]
    for channel in ("train", "validation", "test"):
        if channel in data:
            print_metrics(settings, model, channel, data[channel])
    save_model(model)


if __name__ == "__main__":
    sys.exit(run(train))
