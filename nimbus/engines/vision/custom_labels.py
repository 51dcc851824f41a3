"""Custom Labels: an image-level classifier learnt by transfer learning, with AWS's assumed thresholds.

Each image is described by ``image_embedding`` (EfficientNet-Lite0 read at three depths); each
training image also by AUGMENTED_VIEWS random views of it (a crop of 75-100% of its area, a little
wider or taller, turned up to 10 degrees). A multinomial logistic regression learns the user's
labels from the standardised features. Measured (bench/RESULTS.md), the views leave the most
confident label's accuracy as it was but add 1-2 points at the assumed thresholds (the scores of
the TEST images generalise better); a hidden layer (scikit-learn's MLP) added nothing over the
linear head and trained 20-50 times slower, so the head stays linear.

Each label's assumed threshold is where its F1 score on the TEST images is highest, as AWS sets it:
DetectCustomLabels without MinConfidence returns the labels whose confidence reaches their own
threshold. The model is a few arrays (an .npz, no pickle): it loads in milliseconds and needs no
framework at run time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from nimbus.engines.vision.image import DecodedImage
from nimbus.engines.vision.image_embedding import EMBEDDING_NAME, INPUT_SIZE, image_embeddings

REGULARISATION = 0.03  # scikit-learn's C (inverse strength): few images per label need a strong prior
MAX_ITERATIONS = 2000
AUGMENTED_VIEWS = 4
CROP_AREA = (0.75, 1.0)  # share of the image a view keeps
ASPECT_CHANGE = 1.18  # a view is up to this much wider or taller than the image
MAX_TURN_DEGREES = 10.0
LONGEST_SIDE = 2 * INPUT_SIZE  # JPEGs decode no smaller: a view of 75% of one still fills the input
UNTUNED_THRESHOLD = 0.5  # for a label with no TEST image to tune it on


def image_features(image: DecodedImage) -> np.ndarray:
    return image_embeddings([image.pixels])[0]


def training_features(image: DecodedImage, rng: np.random.Generator) -> np.ndarray:
    """Rows of features: the image itself, then AUGMENTED_VIEWS random views of it."""
    views = [image.pixels] + [augmented_view(image.pixels, rng) for _ in range(AUGMENTED_VIEWS)]
    return image_embeddings(views)


def augmented_view(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = pixels.shape[:2]
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    fill = tuple(int(value) for value in np.median(border, axis=0))  # what the turned corners show
    turned = Image.fromarray(pixels).rotate(
        rng.uniform(-MAX_TURN_DEGREES, MAX_TURN_DEGREES), resample=Image.Resampling.BILINEAR, fillcolor=fill
    )
    area, aspect = rng.uniform(*CROP_AREA), np.exp(rng.uniform(-1.0, 1.0) * np.log(ASPECT_CHANGE))
    crop_width = max(1, min(width, round(width * np.sqrt(area * aspect))))
    crop_height = max(1, min(height, round(height * np.sqrt(area / aspect))))
    left, top = int(rng.integers(0, width - crop_width + 1)), int(rng.integers(0, height - crop_height + 1))
    return np.asarray(turned.crop((left, top, left + crop_width, top + crop_height)))


@dataclass(frozen=True)
class ImageClassifier:
    labels: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # labels x features (one row even for two labels: see ``probabilities``)
    bias: np.ndarray
    thresholds: np.ndarray  # each label's assumed threshold, 0..1

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Rows of per-label probabilities for rows of features."""
        scores = ((features - self.mean) / self.scale) @ self.weights.T + self.bias
        if len(self.labels) == 2:  # scikit-learn's binary model: one score for the second label
            second = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.stack([1.0 - second, second], axis=1)
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray, min_confidence: float | None) -> list[tuple[str, float]]:
        """(label, confidence 0..100) for one image, most confident first: those at min_confidence
        or more, or, without one, those that reach their own assumed threshold."""
        row = 100.0 * self.probabilities(features[np.newaxis])[0]
        floors = 100.0 * self.thresholds if min_confidence is None else np.full(len(row), min_confidence)
        return [(self.labels[i], float(row[i])) for i in np.argsort(-row) if row[i] >= floors[i]]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            np.savez(
                handle,
                embedding=np.array(EMBEDDING_NAME),
                labels=np.array(self.labels),
                mean=self.mean,
                scale=self.scale,
                weights=self.weights,
                bias=self.bias,
                thresholds=self.thresholds,
            )

    @classmethod
    def load(cls, path: Path) -> ImageClassifier:
        """ValueError for a model learnt from other image features (before Nimbus changed them)."""
        with np.load(path, allow_pickle=False) as saved:
            if "embedding" not in saved or str(saved["embedding"]) != EMBEDDING_NAME:
                raise ValueError(
                    "This model version was trained on image features that this Nimbus no longer "
                    "computes; train a new version of the model."
                )
            return cls(
                [str(label) for label in saved["labels"]],
                saved["mean"],
                saved["scale"],
                saved["weights"],
                saved["bias"],
                saved["thresholds"],
            )


def train_classifier(features: np.ndarray, labels: list[str]) -> ImageClassifier:
    """Needs at least two distinct labels. Every label's threshold is UNTUNED_THRESHOLD until
    ``with_assumed_thresholds`` tunes it."""
    names = sorted(set(labels))
    if len(names) < 2:
        raise ValueError("Training needs images of at least two different labels.")
    from sklearn.linear_model import LogisticRegression  # scikit-learn takes a second to import: not at start

    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
    model = LogisticRegression(C=REGULARISATION, max_iter=MAX_ITERATIONS)
    model.fit((features - mean) / scale, [names.index(label) for label in labels])
    return ImageClassifier(
        names,
        mean.astype(np.float32),
        scale.astype(np.float32),
        model.coef_.astype(np.float32),
        model.intercept_.astype(np.float32),
        np.full(len(names), UNTUNED_THRESHOLD, dtype=np.float32),
    )


def f1_optimal_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The score threshold with the best F1 for one label (truth: which images carry it). Between the
    lowest score it accepts and the highest it rejects, the midpoint: the widest margin both ways."""
    if not truth.any():
        return UNTUNED_THRESHOLD
    order = np.argsort(-scores, kind="stable")
    ranked, positive = scores[order], truth[order]
    f1 = 2 * np.cumsum(positive) / (np.arange(1, len(ranked) + 1) + positive.sum())
    accepted = int(np.argmax(f1))
    rejected = float(ranked[accepted + 1]) if accepted + 1 < len(ranked) else 0.0
    return (float(ranked[accepted]) + rejected) / 2


def with_assumed_thresholds(
    classifier: ImageClassifier, features: np.ndarray, labels: list[str]
) -> ImageClassifier:
    probabilities = classifier.probabilities(features)
    truth = np.array(labels)
    thresholds = [
        f1_optimal_threshold(probabilities[:, index], truth == name)
        for index, name in enumerate(classifier.labels)
    ]
    return replace(classifier, thresholds=np.array(thresholds, dtype=np.float32))


@dataclass(frozen=True)
class LabelEvaluation:
    precision: float
    recall: float
    f1_score: float
    threshold: float
    images: int  # TEST images that carry the label


@dataclass(frozen=True)
class Evaluation:
    f1_score: float  # macro averages over the labels, 0..1
    precision: float
    recall: float
    per_label: dict[str, LabelEvaluation]
    confusion: dict[
        tuple[str, str], float
    ]  # (true label, most confident label) -> share of the true label's images


def evaluate(classifier: ImageClassifier, features: np.ndarray, labels: list[str]) -> Evaluation:
    """Scores what DetectCustomLabels answers without MinConfidence, for each label that TEST images
    carry: a label is predicted for an image when its confidence reaches the label's threshold."""
    probabilities = classifier.probabilities(features)
    truth = np.array(labels)
    per_label = {}
    for name in sorted(set(labels)):
        actual = truth == name
        if name in classifier.labels:
            index = classifier.labels.index(name)
            predicted, threshold = (
                probabilities[:, index] >= classifier.thresholds[index],
                classifier.thresholds[index],
            )
        else:  # a TEST label the TRAIN images never showed: never predicted
            predicted, threshold = np.zeros(len(truth), dtype=bool), 1.0
        hits = int((predicted & actual).sum())
        precision = hits / max(1, int(predicted.sum()))
        recall = hits / max(1, int(actual.sum()))
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        per_label[name] = LabelEvaluation(precision, recall, f1, float(threshold), int(actual.sum()))
    most_confident = [classifier.labels[index] for index in probabilities.argmax(axis=1)]
    pairs = Counter(zip(labels, most_confident, strict=True))
    confusion = {pair: count / per_label[pair[0]].images for pair, count in pairs.items()}
    scored = list(per_label.values())
    return Evaluation(
        f1_score=float(np.mean([label.f1_score for label in scored])),
        precision=float(np.mean([label.precision for label in scored])),
        recall=float(np.mean([label.recall for label in scored])),
        per_label=per_label,
        confusion=confusion,
    )
