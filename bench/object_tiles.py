"""Test-time tiles for the object detectors, measured by object_quality.py (NOT in the engine: on
COCO its mAP gain was not beyond noise and it costs four times the detectors' time;
bench/RESULTS.md has the figures).

Each detector looks at the whole photo and at a fixed 2x2 grid of overlapping tiles, each
``TILE_SIDE`` of the photo's width and height (corners at the photo's corners, so they overlap by a
third). In a tile an object is seen larger and among less clutter. A tile's boxes are mapped back
to photo pixels and pooled with the whole photo's: a tile box that overlaps a whole-photo box of
its class (IoU above the detector's own NMS threshold) keeps its score, one seen only in tiles is
weighted by ``weight``; a tile box that touches a tile edge inside the photo (the object is cut
there) may be dropped. The detector's own class-wise NMS then keeps the best of each cluster, and
the two detectors are fused as the engine fuses them (objects.fuse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nimbus.engines.vision.boxes import ClassifiedBoxes, iou, non_maximum_suppression

TILE_SIDE = 2 / 3
CUT_MARGIN = 2.0  # pixels: a box this close to a tile edge inside the photo is cut by it

Detector = Callable[[np.ndarray, float], ClassifiedBoxes]


@dataclass(frozen=True)
class Views:
    """One detector's boxes on the whole photo and on its tiles (photo pixels)."""

    whole: ClassifiedBoxes
    tiles: ClassifiedBoxes
    cut: np.ndarray  # per tile box: it touches a tile edge inside the photo


@dataclass(frozen=True)
class Variant:
    weight: float  # the factor on the score of a box seen only in tiles
    drop_cut: bool  # drop tile boxes cut by a tile edge


def windows(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The tiles (x0, y0, x1, y1): 2x2, each TILE_SIDE of each side, at the photo's corners."""
    tile_width, tile_height = round(width * TILE_SIDE), round(height * TILE_SIDE)
    return [
        (x, y, x + tile_width, y + tile_height)
        for y in (0, height - tile_height)
        for x in (0, width - tile_width)
    ]


def _cut(boxes: np.ndarray, window: tuple[int, int, int, int], width: int, height: int) -> np.ndarray:
    x0, y0, x1, y1 = window
    inner = [
        (0, x0, x0 > 0),
        (1, y0, y0 > 0),
        (2, x1, x1 < width),
        (3, y1, y1 < height),
    ]
    cut = np.zeros(len(boxes), dtype=bool)
    for column, edge, inside in inner:
        if inside:
            cut |= np.abs(boxes[:, column] - edge) <= CUT_MARGIN
    return cut


def detector_views(pixels: np.ndarray, detect: Detector, min_score: float) -> Views:
    height, width = pixels.shape[:2]
    whole = detect(pixels, min_score)
    parts, cuts = [], []
    for window in windows(width, height):
        x0, y0, x1, y1 = window
        found = detect(np.ascontiguousarray(pixels[y0:y1, x0:x1]), min_score)
        boxes = found.boxes + np.array([x0, y0, x0, y0], dtype=found.boxes.dtype)
        parts.append(ClassifiedBoxes(boxes, found.scores, found.classes))
        cuts.append(_cut(boxes, window, width, height))
    tiles = ClassifiedBoxes(
        np.concatenate([part.boxes for part in parts]).reshape(-1, 4),
        np.concatenate([part.scores for part in parts]),
        np.concatenate([part.classes for part in parts]),
    )
    return Views(whole, tiles, np.concatenate(cuts))


def merged(views: Views, variant: Variant, nms_iou: float) -> ClassifiedBoxes:
    """The whole photo's boxes and the tiles', as one detector's answer."""
    tiles = views.tiles.take(np.flatnonzero(~views.cut)) if variant.drop_cut else views.tiles
    whole = views.whole
    seen_whole = np.array(
        [
            bool(np.any((whole.classes == cls) & (iou(box, whole.boxes) > nms_iou)))
            for box, cls in zip(tiles.boxes, tiles.classes, strict=True)
        ],
        dtype=bool,
    )
    scores = np.where(seen_whole, tiles.scores, tiles.scores * variant.weight)
    boxes = np.concatenate([whole.boxes, tiles.boxes]).reshape(-1, 4)
    pooled = ClassifiedBoxes(
        boxes, np.concatenate([whole.scores, scores]), np.concatenate([whole.classes, tiles.classes])
    )
    return pooled.take(
        non_maximum_suppression(pooled.boxes, pooled.scores, nms_iou, pooled.classes, limit=200)
    )
