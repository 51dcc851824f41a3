"""Rekognition's face Confidence (0-100) from the detector's probability.

Confidence should read as the chance that the box holds a face: a clear face scores in the high
90s, a doubtful one low. RetinaFace's probability is a softmax trained on WIDER FACE, whose
faces are harder than most photos', so it is underconfident below 0.9 (on COCO photos, its
detections at 0.5-0.7 are faces 94 % of the time). Platt scaling of its logit corrects that
without changing the order of any two faces:

    Confidence = 100 * sigmoid(SLOPE * logit(p) + OFFSET)

SLOPE and OFFSET are fitted by ``bench/face_quality.py --fit`` on COCO val2017 photos labelled
by COCO's person boxes, and checked on other photos (ECE 10.0 -> 6.6 points; bench/RESULTS.md).
The fit rests on 76 detections, so it is coarse: it moves a 0.5 probability to 72 and leaves a
clear face's 0.99 at 99.
"""

from __future__ import annotations

import math

SLOPE = 0.853
OFFSET = 0.932
_EPSILON = 1e-7


def calibrated_confidence(probability: float) -> float:
    p = min(max(probability, _EPSILON), 1.0 - _EPSILON)
    logit = math.log(p / (1.0 - p))
    return 100.0 / (1.0 + math.exp(-(SLOPE * logit + OFFSET)))
