"""COCO object detection with NanoDet-g (80 classes) on ONNX Runtime.

The image is scaled to fit 416x416 keeping its aspect ratio, padded with black at the right
or bottom (BGR, NanoDet's mean/std normalisation). NanoDet's head
gives, for every cell of three grids (strides 8, 16, 32), a sigmoid score per class and, per
box side, a distribution over 0..10 strides (Generalized Focal Loss): the distance to that
side is the distribution's expectation. Boxes are kept per class by non-maximum suppression
and reported relative to the upright image (0..1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from nimbus.engines.vision.geometry import Box
from nimbus.engines.vision.image import DecodedImage
from nimbus.engines.vision.models import DETECTOR_FILE, session

INPUT_SIZE = 416
STRIDES = (8, 16, 32)
BINS = 11  # reg_max 10: distances 0..10 strides
MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)
NMS_IOU = 0.5
MAX_DETECTIONS = 100
CANDIDATES_PER_LEVEL = 1000

COCO_CLASSES = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)


@dataclass(frozen=True)
class Detection:
    coco_class: str
    confidence: float  # 0..100
    box: Box


def _input_tensor(pixels: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """The network input, and the image's width and height inside it (input pixels)."""
    height, width = pixels.shape[:2]
    scale = INPUT_SIZE / max(height, width)
    fitted = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(Image.fromarray(pixels).resize(fitted, Image.Resampling.BILINEAR))
    canvas = np.zeros((INPUT_SIZE, INPUT_SIZE, 3), dtype=np.uint8)
    canvas[: fitted[1], : fitted[0]] = resized
    bgr = canvas[..., ::-1].astype(np.float32)
    return ((bgr - MEAN_BGR) / STD_BGR).transpose(2, 0, 1)[np.newaxis], (float(fitted[0]), float(fitted[1]))


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


def _level_candidates(scores: np.ndarray, distributions: np.ndarray, min_score: float) -> np.ndarray:
    """Rows of (x1, y1, x2, y2 in input pixels, score, class) above min_score."""
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
    return np.column_stack([np.clip(corners, 0, INPUT_SIZE), scores[cells, classes], classes])


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    width = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    intersection = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return intersection / np.maximum(area + areas - intersection, 1e-9)


def _non_maximum_suppression(candidates: np.ndarray) -> np.ndarray:
    """Greedy per-class NMS: highest score first, dropping same-class boxes that overlap it."""
    ordered = candidates[np.argsort(candidates[:, 4])[::-1]]
    kept = []
    while len(ordered) and len(kept) < MAX_DETECTIONS:
        best, rest = ordered[0], ordered[1:]
        kept.append(best)
        overlapping = (rest[:, 5] == best[5]) & (_iou(best, rest) > NMS_IOU)
        ordered = rest[~overlapping]
    return np.array(kept).reshape(-1, 6)


def _detection(row: np.ndarray, image_extent: tuple[float, float]) -> Detection:
    width, height = image_extent
    x1, x2 = (min(float(value) / width, 1.0) for value in (row[0], row[2]))
    y1, y2 = (min(float(value) / height, 1.0) for value in (row[1], row[3]))
    return Detection(COCO_CLASSES[int(row[5])], float(row[4]) * 100, Box(x1, y1, x2 - x1, y2 - y1))


def detect_objects(image: DecodedImage, min_confidence: float) -> list[Detection]:
    """COCO objects with confidence >= min_confidence (0..100), most confident first."""
    detector = session(DETECTOR_FILE)
    tensor, image_extent = _input_tensor(image.pixels)
    outputs = detector.run(None, {detector.get_inputs()[0].name: tensor})
    min_score = min_confidence / 100
    levels = _level_outputs(outputs)
    candidates = np.concatenate([_level_candidates(*levels[cells], min_score) for cells in sorted(levels)])
    return [_detection(row, image_extent) for row in _non_maximum_suppression(candidates)]
