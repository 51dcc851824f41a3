"""Automated data labelling with active learning, as Ground Truth runs it for single-label image
classification: a classifier learnt from the people's labels so far (Custom Labels' linear head on
its image embedding), the confidence from which that classifier's labels are as accurate as the
target, measured on labels it did not learn from, and which objects people should label next.

The threshold: the human-labelled objects are split in FOLDS; each fold is classified by a model
learnt from the others, so every human label has a held-out prediction. An isotonic regression of
"the held-out prediction was right" on its confidence estimates how often a label of a given
confidence is right; the threshold is the lowest held-out confidence from which that estimate reaches
the target accuracy. Objects at or above it are labelled by the machine; of the rest, people get
the ones the classifier is least sure of (uncertainty sampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nimbus.engines.vision.custom_labels import ImageClassifier, train_classifier
from nimbus.engines.vision.image import decode_image
from nimbus.engines.vision.image_embedding import image_embeddings

TARGET_ACCURACY = 0.95  # Ground Truth's aim for machine labels
FOLDS = 3
NO_THRESHOLD = 2.0  # a confidence no label reaches: nothing is machine-labelled


@dataclass(frozen=True)
class MachineLabel:
    index: int  # the object's row in the features
    label: str
    confidence: float  # 0..1


@dataclass(frozen=True)
class LabellingRound:
    classifier: ImageClassifier  # learnt from every human label so far
    threshold: float  # the calibrated confidence threshold (NO_THRESHOLD when none reaches the target)
    held_out_accuracy: float  # of the held-out predictions at or above the threshold
    machine_labels: list[MachineLabel]
    next_for_people: list[int]  # the least confident unlabelled objects, least confident first


def image_features(images: list[bytes]) -> np.ndarray:
    """A row of Custom Labels' image features for each image file (JPEG or PNG); InvalidImageError
    for one that is not an image."""
    return image_embeddings([decode_image(data).pixels for data in images])


def labelling_round(
    features: np.ndarray,
    human: dict[int, str],
    unlabelled: list[int],
    batch_size: int,
    target: float = TARGET_ACCURACY,
) -> LabellingRound:
    """One round over ``features`` (a row per data object): ``human`` maps rows to people's labels,
    ``unlabelled`` lists the rows nobody labelled yet. Needs human labels of at least two classes."""
    rows = sorted(human)
    truth = np.array([human[row] for row in rows])
    classifier = train_classifier(features[rows], list(truth))
    if not unlabelled:  # the last round: only its classifier is wanted
        return LabellingRound(classifier, NO_THRESHOLD, 0.0, [], [])
    confidence, correct = _held_out(features[rows], truth)
    threshold, accuracy = calibrated_threshold(confidence, correct, target)
    probabilities = classifier.probabilities(features[unlabelled])
    best, scores = probabilities.argmax(axis=1), probabilities.max(axis=1)
    machine = [
        MachineLabel(row, classifier.labels[best[place]], float(scores[place]))
        for place, row in enumerate(unlabelled)
        if scores[place] >= threshold
    ]
    labelled = {label.index for label in machine}
    rest = [(float(scores[place]), row) for place, row in enumerate(unlabelled) if row not in labelled]
    return LabellingRound(
        classifier, threshold, accuracy, machine, [row for _, row in sorted(rest)[:batch_size]]
    )


def _held_out(features: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each human-labelled object's most confident label from a model that did not learn it: that
    label's confidence, and whether it was right."""
    from sklearn.model_selection import StratifiedKFold  # scikit-learn takes a second to import: not at start

    smallest = int(np.unique(truth, return_counts=True)[1].min())
    folds = StratifiedKFold(n_splits=max(2, min(FOLDS, smallest)), shuffle=True, random_state=0)
    confidence, correct = np.zeros(len(truth)), np.zeros(len(truth), dtype=bool)
    # a class with fewer objects than folds is missing from some folds: StratifiedKFold warns, works
    for learn, held in folds.split(features, truth):
        if len(np.unique(truth[learn])) < 2:
            continue  # left at confidence 0: it lowers no threshold
        model = train_classifier(features[learn], list(truth[learn]))
        probabilities = model.probabilities(features[held])
        confidence[held] = probabilities.max(axis=1)
        correct[held] = np.array(model.labels)[probabilities.argmax(axis=1)] == truth[held]
    return confidence, correct


def calibrated_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> tuple[float, float]:
    """The lowest held-out confidence whose isotonic estimate of accuracy reaches ``target``, and
    the held-out accuracy at or above it; (NO_THRESHOLD, 0.0) when none reaches it."""
    from sklearn.isotonic import IsotonicRegression  # scikit-learn takes a second to import: not at start

    calibration = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    estimated = calibration.fit(confidence, correct.astype(float)).predict(confidence)
    reaching = confidence[estimated >= target]
    if not len(reaching):
        return NO_THRESHOLD, 0.0
    threshold = float(reaching.min())
    return threshold, float(correct[confidence >= threshold].mean())
