"""Boxes in image pixels, as rows of (x0, y0, x1, y1): overlap and non-maximum suppression,
shared by the face and object detectors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClassifiedBoxes:
    """What an object detector found: boxes (pixels), scores 0-1 and class indices, row by row."""

    boxes: np.ndarray  # N x 4
    scores: np.ndarray  # N
    classes: np.ndarray  # N, integers

    def take(self, rows: np.ndarray) -> ClassifiedBoxes:
        return ClassifiedBoxes(self.boxes[rows], self.scores[rows], self.classes[rows])


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one box with each row of ``boxes``."""
    width = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    intersection = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return intersection / np.maximum(area + areas - intersection, 1e-9)


def non_maximum_suppression(
    boxes: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    groups: np.ndarray | None = None,
    limit: int = 100,
) -> np.ndarray:
    """Indices of the boxes kept, best first: greedily the highest score, dropping the boxes of
    its group (class) that overlap it by more than ``threshold``."""
    order = np.argsort(-scores)
    group_of = np.zeros(len(scores), dtype=np.int64) if groups is None else groups
    kept: list[int] = []
    while order.size and len(kept) < limit:
        best, order = order[0], order[1:]
        kept.append(int(best))
        overlapping = (group_of[order] == group_of[best]) & (iou(boxes[best], boxes[order]) > threshold)
        order = order[~overlapping]
    return np.array(kept, dtype=np.int64)
