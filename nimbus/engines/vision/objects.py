"""COCO objects: two detectors of different design, fused, with calibrated confidence.

NanoDet-g (anchor-free, 416 pixels) and SSD MobileNet V2 (anchor boxes, 300 pixels) make
different mistakes. Their boxes of one class that overlap (IoU above ``FUSION_IOU``) are one
object: its box is their score-weighted mean, and its raw score the mean of each detector's
score for it (0 where a detector did not see it), so that an object both see outranks one that
only one sees.

Confidence is that raw score calibrated by Platt scaling of its logit,

    Confidence = 100 * sigmoid(SLOPE * logit(raw) + OFFSET),

which keeps the order of any two objects. SLOPE and OFFSET are fitted by
``bench/object_quality.py --fit`` on COCO val2017 photos and checked on others (bench/RESULTS.md
has the reliability table): a detection at Confidence c is right about c % of the time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nimbus.engines.vision.boxes import ClassifiedBoxes, iou
from nimbus.engines.vision.coco import COCO_CLASSES
from nimbus.engines.vision.geometry import Box
from nimbus.engines.vision.image import DecodedImage
from nimbus.engines.vision.nanodet import nanodet_detections
from nimbus.engines.vision.ssd import ssd_detections

DETECTOR_MIN_SCORE = 0.05  # each detector's floor: weaker hits are noise even after fusion
FUSION_IOU = 0.55
SLOPE = 2.252
OFFSET = 0.715
_EPSILON = 1e-6


@dataclass(frozen=True)
class Detection:
    coco_class: str
    confidence: float  # 0..100
    box: Box


@dataclass(frozen=True)
class FusedObject:
    """One object as the detectors saw it: class index, pixel box, each detector's score."""

    coco_class: int
    box: np.ndarray
    scores: tuple[float, ...]  # one per detector, 0 where it did not see the object

    @property
    def raw_score(self) -> float:
        return float(np.mean(self.scores))


def fuse(detections: list[ClassifiedBoxes]) -> list[FusedObject]:
    """Objects from several detectors' boxes: each box joins the first same-class object (best
    first) that it overlaps by more than FUSION_IOU and that its detector has not yet joined."""
    rows = [
        (float(score), detector, int(cls), box)
        for detector, found in enumerate(detections)
        for box, score, cls in zip(found.boxes, found.scores, found.classes, strict=True)
    ]
    rows.sort(key=lambda row: -row[0])
    clusters: list[dict] = []
    for score, detector, cls, box in rows:
        match = next(
            (
                cluster
                for cluster in clusters
                if cluster["class"] == cls
                and detector not in cluster["scores"]
                and iou(cluster["box"], box[np.newaxis])[0] > FUSION_IOU
            ),
            None,
        )
        if match is None:
            clusters.append({"class": cls, "box": box, "scores": {detector: score}, "weighted": box * score})
            continue
        match["scores"][detector] = score
        match["weighted"] = match["weighted"] + box * score
        match["box"] = match["weighted"] / sum(match["scores"].values())
    return [
        FusedObject(
            cluster["class"],
            cluster["box"],
            tuple(cluster["scores"].get(detector, 0.0) for detector in range(len(detections))),
        )
        for cluster in clusters
    ]


def calibrated_confidence(raw_score: float) -> float:
    p = min(max(raw_score, _EPSILON), 1.0 - _EPSILON)
    return 100.0 / (1.0 + math.exp(-(SLOPE * math.log(p / (1.0 - p)) + OFFSET)))


def fused_objects(pixels: np.ndarray) -> list[FusedObject]:
    """Every object either detector sees, before calibration."""
    return fuse([nanodet_detections(pixels, DETECTOR_MIN_SCORE), ssd_detections(pixels, DETECTOR_MIN_SCORE)])


def _relative_box(box: np.ndarray, width: int, height: int) -> Box:
    x0, y0, x1, y1 = (float(value) for value in np.clip(box, 0, [width, height, width, height]))
    return Box(x0 / width, y0 / height, (x1 - x0) / width, (y1 - y0) / height)


def detect_objects(image: DecodedImage, min_confidence: float) -> list[Detection]:
    """COCO objects with Confidence >= min_confidence (0..100), most confident first."""
    found = []
    for thing in fused_objects(image.pixels):
        confidence = calibrated_confidence(thing.raw_score)
        if confidence >= min_confidence:
            box = _relative_box(thing.box, image.width, image.height)
            found.append(Detection(COCO_CLASSES[thing.coco_class], confidence, box))
    return sorted(found, key=lambda detection: -detection.confidence)
