"""Custom Labels: an image-level classifier learnt by transfer learning.

Each image is described by the ImageNet classifier's (EfficientNet-Lite0) 1000 logits, standardised;
a multinomial logistic regression learns the user's labels from them. The model is a few arrays
(saved as an .npz, no pickle), so it loads in milliseconds and needs no framework at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_fscore_support

from nimbus.engines.vision.image import DecodedImage
from nimbus.engines.vision.labels import imagenet_logits

REGULARISATION = 0.1  # inverse strength (scikit-learn's C): few images per label need a strong prior
MAX_ITERATIONS = 2000


def image_features(image: DecodedImage) -> np.ndarray:
    return imagenet_logits(image).astype(np.float32)


@dataclass(frozen=True)
class ImageClassifier:
    labels: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # labels x features (one row even for two labels: see ``probabilities``)
    bias: np.ndarray

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Rows of per-label probabilities for rows of features."""
        scores = ((features - self.mean) / self.scale) @ self.weights.T + self.bias
        if len(self.labels) == 2:  # scikit-learn's binary model: one score for the second label
            second = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1.0 - second, second], axis=1)
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray) -> list[tuple[str, float]]:
        """(label, confidence 0..100) for one image, most confident first."""
        row = self.probabilities(features[np.newaxis])[0]
        return [(self.labels[index], 100.0 * float(row[index])) for index in np.argsort(-row)]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez(
                handle,
                labels=np.array(self.labels),
                mean=self.mean,
                scale=self.scale,
                weights=self.weights,
                bias=self.bias,
            )

    @classmethod
    def load(cls, path: Path) -> ImageClassifier:
        with np.load(path, allow_pickle=False) as saved:
            return cls(
                [str(label) for label in saved["labels"]],
                saved["mean"],
                saved["scale"],
                saved["weights"],
                saved["bias"],
            )


def train_classifier(features: np.ndarray, labels: list[str]) -> ImageClassifier:
    """Needs at least two distinct labels."""
    names = sorted(set(labels))
    if len(names) < 2:
        raise ValueError("Training needs images of at least two different labels.")
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    model = LogisticRegression(C=REGULARISATION, max_iter=MAX_ITERATIONS)
    model.fit((features - mean) / scale, [names.index(label) for label in labels])
    return ImageClassifier(
        names, mean, scale, model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
    )


@dataclass(frozen=True)
class Evaluation:
    f1_score: float  # macro average over the labels, 0..1
    precision: float
    recall: float
    per_label: dict[str, tuple[float, float, float, int]]  # label -> (precision, recall, F1, images)


def evaluate(classifier: ImageClassifier, features: np.ndarray, labels: list[str]) -> Evaluation:
    predicted = [classifier.labels[index] for index in classifier.probabilities(features).argmax(axis=1)]
    names = sorted(set(labels) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=names, zero_division=0
    )
    macro = precision_recall_fscore_support(labels, predicted, labels=names, average="macro", zero_division=0)
    return Evaluation(
        f1_score=float(macro[2]),
        precision=float(macro[0]),
        recall=float(macro[1]),
        per_label={
            name: (float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
            for i, name in enumerate(names)
        },
    )
