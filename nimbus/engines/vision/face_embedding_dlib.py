"""Face descriptors of the first face model: dlib's 128-d ResNet face descriptor. Collections made
with it keep it (their faces' descriptors can only be compared with descriptors of the same network);
new collections use SFace (face_embedding).

Model: ``models/dlib_face_recognition_resnet_model_v1.dat`` of face_recognition_models 0.3.0
(99.38 % on LFW as dlib reports it; weights dedicated to the public domain, CC0; dlib is under the
Boost Software Licence), given the face along dlib's five-point shape (face_chips).

Similarity: dlib's descriptors put two photos of one person closer than 0.6 (Euclidean) and
two people further apart. Rekognition reports similarity 0-100 and CompareFaces matches at
80 by default, so the mapping is a logistic curve with 80 at distance 0.6:
    similarity = 100 / (1 + exp((distance - CENTRE) / SPREAD)),  SPREAD = 0.05,
    CENTRE = 0.6 + SPREAD * ln 4 (about 0.669, where similarity is 50).
So distance 0.4 -> 99.5, 0.5 -> 96.7, 0.6 -> 80, 0.7 -> 35, 0.8 -> 6.8. The spread is a
design choice (same-person pairs mostly fall at 0.3-0.5, different people at 0.7-1.0), not a fit.
"""

from __future__ import annotations

import functools
import math
import threading
from typing import TYPE_CHECKING

import numpy as np

from nimbus.engines.vision.face_chips import five_point_shape
from nimbus.engines.vision.face_detection import FaceCandidate
from nimbus.engines.vision.model_files import package_file

if TYPE_CHECKING:  # dlib is imported with the first face, not at start
    import dlib

SAME_PERSON_DISTANCE = 0.6
SIMILARITY_AT_SAME_PERSON_DISTANCE = 80.0
SIMILARITY_SPREAD = 0.05
SIMILARITY_CENTRE = SAME_PERSON_DISTANCE + SIMILARITY_SPREAD * math.log(
    SIMILARITY_AT_SAME_PERSON_DISTANCE / (100.0 - SIMILARITY_AT_SAME_PERSON_DISTANCE)
)

_NETWORK_LOCK = threading.Lock()  # dlib's network keeps per-call state; calls are serialised


@functools.cache
def _descriptor_network() -> dlib.face_recognition_model_v1:
    import dlib

    return dlib.face_recognition_model_v1(
        str(package_file("face_recognition_models", "models", "dlib_face_recognition_resnet_model_v1.dat"))
    )


def embed(pixels: np.ndarray, face: FaceCandidate) -> np.ndarray:
    """The 128-d descriptor (float32) of the detector's ``face``."""
    shape = five_point_shape(pixels, face.box)
    with _NETWORK_LOCK:
        descriptor = _descriptor_network().compute_face_descriptor(pixels, shape)
    return np.asarray(descriptor, dtype=np.float32)


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Rekognition-like similarity 0-100 of two descriptors (see the module notes)."""
    distance = float(np.linalg.norm(np.asarray(first) - np.asarray(second)))
    exponent = min((distance - SIMILARITY_CENTRE) / SIMILARITY_SPREAD, 700.0)
    return 100.0 / (1.0 + math.exp(exponent))
