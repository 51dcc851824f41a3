"""Crop verification of doubtful object boxes, measured by object_quality.py (NOT in the engine:
on COCO it did not clearly beat the fused detectors alone; bench/RESULTS.md has the figures).

A box whose calibrated Confidence (nimbus/engines/vision/objects.py) lies in ``BAND`` is cut out of
the photo (a square around it, ``PADDING`` wider than its longer side) and classified by the
ImageNet classifier DetectLabels ships (EfficientNet-Lite0). Two probabilities of that crop are
evidence for the box's COCO class, both read off the WordNet taxonomy (taxonomy.py), not a hand
list: that of the ImageNet classes under the class's own label ("Bicycle": mountain bike,
bicycle-built-for-two; a tricycle or a unicycle is not a bicycle in WordNet) and that of the
classes under the label's nearest curated parent, its kind ("Vehicle"). Its Confidence is then a
logistic regression on

    [logit of the fused raw score, log crop probability of the class, log crop probability of its
     kind, log of the box's side relative to the photo's]

fitted on the first COCO subset only (``object_quality.py --fit`` refits WEIGHTS and INTERCEPT and
prints them). Person is not verified: ImageNet-1k has no class for people (only roles: groom,
scuba diver, ballplayer); nor are the classes no ImageNet class stands for. At most ``MAX_CROPS``
boxes a photo, the most likely first.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from nimbus.engines.vision.coco import COCO_CLASSES
from nimbus.engines.vision.image import DecodedImage
from nimbus.engines.vision.labels import CENTRE_CROP, COCO_LABELS, classify
from nimbus.engines.vision.objects import FusedObject, calibrated_confidence
from nimbus.engines.vision.taxonomy import imagenet_taxonomy

BAND = (5.0, 95.0)  # calibrated Confidence (0..100) of the boxes that are verified
MAX_CROPS = 8
PADDING = 0.2
# fitted on the first COCO subset (/tmp/coco/mini, 79 photos) by object_quality.py --fit
WEIGHTS = np.array([2.322, 0.354, -0.357, 0.352])
INTERCEPT = 1.560
UNVERIFIED = ("person",)
_FLOOR = 1e-3  # the least crop probability the features take the log of


def _supporting_classes(name: str) -> np.ndarray:
    """ImageNet class indices whose taxonomy labels include ``name``."""
    labels = imagenet_taxonomy().class_labels
    return np.array([index for index, names in enumerate(labels) if name in names], dtype=np.int64)


@cache
def evidence_classes() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """COCO class index -> (ImageNet classes of its label, of its label's kind), for the classes
    that can be verified."""
    found = {}
    for index, coco_class in enumerate(COCO_CLASSES):
        name, parent_source = COCO_LABELS.get(coco_class, (coco_class.title(), None))
        own = _supporting_classes(name)
        if not own.size and parent_source is not None:
            name, own = parent_source, _supporting_classes(parent_source)
        if own.size and coco_class not in UNVERIFIED:
            parents = imagenet_taxonomy().describe(name).parents
            found[index] = (own, _supporting_classes(parents[0]) if parents else own)
    return found


def crop(pixels: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The square around ``box`` that the classifier's centre crop (CENTRE_CROP of it) turns into
    the box PADDING wider than its longer side (clipped to the photo)."""
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = (float(value) for value in box)
    half = max(x1 - x0, y1 - y0) * (1 + PADDING) / CENTRE_CROP / 2
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = max(0, int(centre_x - half)), max(0, int(centre_y - half))
    right, bottom = min(width, int(np.ceil(centre_x + half))), min(height, int(np.ceil(centre_y + half)))
    return np.ascontiguousarray(pixels[top : max(bottom, top + 1), left : max(right, left + 1)])


def to_verify(things: list[FusedObject]) -> list[int]:
    """Indices of the objects whose crops are classified: in BAND, of a class ImageNet knows, at
    most MAX_CROPS of them, the most likely first."""
    verifiable = evidence_classes()
    doubtful = [
        index
        for index, thing in enumerate(things)
        if BAND[0] <= calibrated_confidence(thing.raw_score) < BAND[1] and thing.coco_class in verifiable
    ]
    return sorted(doubtful, key=lambda index: -things[index].raw_score)[:MAX_CROPS]


def crop_features(pixels: np.ndarray, things: list[FusedObject], chosen: list[int]) -> np.ndarray:
    """One row of the regression's inputs per chosen object."""
    side = np.sqrt(pixels.shape[0] * pixels.shape[1])
    rows = []
    for thing in (things[index] for index in chosen):
        piece = crop(pixels, thing.box)
        probabilities = classify(DecodedImage(piece, "PNG", None))
        own, kind = evidence_classes()[thing.coco_class]
        score = min(max(thing.raw_score, 1e-6), 1 - 1e-6)
        x0, y0, x1, y1 = thing.box
        rows.append(
            [
                np.log(score / (1 - score)),
                np.log(probabilities[own].sum() + _FLOOR),
                np.log(probabilities[kind].sum() + _FLOOR),
                np.log(np.sqrt(max((x1 - x0) * (y1 - y0), 1.0)) / side),
            ]
        )
    return np.array(rows).reshape(-1, len(WEIGHTS))


def verified_confidences(pixels: np.ndarray, things: list[FusedObject]) -> list[float]:
    """Each object's Confidence (0..100): calibrated, and crop-verified where doubtful."""
    confidences = [calibrated_confidence(thing.raw_score) for thing in things]
    chosen = to_verify(things)
    verified = 100.0 / (1.0 + np.exp(-(crop_features(pixels, things, chosen) @ WEIGHTS + INTERCEPT)))
    for index, confidence in zip(chosen, verified, strict=True):
        confidences[index] = float(confidence)
    return confidences
