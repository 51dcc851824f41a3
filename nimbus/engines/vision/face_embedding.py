"""Face descriptors for comparing and searching faces: dlib's 128-d ResNet face descriptor.

Models (face_recognition_models 0.3.0, weights dedicated to the public domain, CC0; dlib is
under the Boost Software Licence):
  models/shape_predictor_5_face_landmarks.dat   eye corners and nose base, for alignment
  models/dlib_face_recognition_resnet_model_v1.dat   the descriptor network (99.38 % on LFW)

The 5-point predictor is given the detector's box less its top 23 % (the forehead): cheek to
cheek, brow to chin, close to the boxes of dlib's own detector that it was trained on (on faces
the mesh fits, that is where its cheek, brow and chin points lie, within 3-11 % of the box).

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

import dlib
import numpy as np

from nimbus.engines.vision.model_files import package_file

DESCRIPTOR_SIZE = 128
SAME_PERSON_DISTANCE = 0.6
SIMILARITY_AT_SAME_PERSON_DISTANCE = 80.0
SIMILARITY_SPREAD = 0.05
SIMILARITY_CENTRE = SAME_PERSON_DISTANCE + SIMILARITY_SPREAD * math.log(
    SIMILARITY_AT_SAME_PERSON_DISTANCE / (100.0 - SIMILARITY_AT_SAME_PERSON_DISTANCE)
)

_DLIB_LOCK = threading.Lock()  # dlib's networks keep per-call state; calls are serialised


@functools.cache
def _shape_predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(
        str(package_file("face_recognition_models", "models", "shape_predictor_5_face_landmarks.dat"))
    )


@functools.cache
def _descriptor_network() -> dlib.face_recognition_model_v1:
    return dlib.face_recognition_model_v1(
        str(package_file("face_recognition_models", "models", "dlib_face_recognition_resnet_model_v1.dat"))
    )


FOREHEAD_SHARE = 0.23  # of the detector's box height, above the brows


def _predictor_box(box: np.ndarray) -> dlib.rectangle:
    left, top, right, bottom = (float(value) for value in box)
    top += FOREHEAD_SHARE * (bottom - top)
    return dlib.rectangle(round(left), round(top), round(right), round(bottom))


def five_point_shape(pixels: np.ndarray, box: np.ndarray) -> dlib.full_object_detection:
    """dlib's five points (eye corners, nose base) of the face in the detector's ``box``."""
    with _DLIB_LOCK:
        return _shape_predictor()(pixels, _predictor_box(box))


def embed(pixels: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The 128-d descriptor (float32) of the face in the detector's ``box`` (x0, y0, x1, y1)."""
    shape = five_point_shape(pixels, box)
    with _DLIB_LOCK:
        descriptor = _descriptor_network().compute_face_descriptor(pixels, shape)
    return np.asarray(descriptor, dtype=np.float32)


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Rekognition-like similarity 0-100 of two descriptors (see the module notes)."""
    distance = float(np.linalg.norm(np.asarray(first) - np.asarray(second)))
    exponent = min((distance - SIMILARITY_CENTRE) / SIMILARITY_SPREAD, 700.0)
    return 100.0 / (1.0 + math.exp(exponent))
