"""dlib's five-point shape of a face: what dlib's face chips (the inputs of the age and gender
networks in face_attributes) are cut along.

Model: ``models/shape_predictor_5_face_landmarks.dat`` of face_recognition_models 0.3.0 (weights
dedicated to the public domain, CC0; dlib is under the Boost Software Licence).

The predictor is given the detector's box less its top 23 % (the forehead): cheek to cheek, brow
to chin, close to the boxes of dlib's own detector that it was trained on (on faces the mesh fits,
that is where its cheek, brow and chin points lie, within 3-11 % of the box).
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

import numpy as np

from nimbus.engines.vision.model_files import package_file

if TYPE_CHECKING:  # dlib is imported with the first face, not at start
    import dlib

FOREHEAD_SHARE = 0.23  # of the detector's box height, above the brows

_DLIB_LOCK = threading.Lock()  # dlib's predictor keeps per-call state; calls are serialised


@functools.cache
def _shape_predictor() -> dlib.shape_predictor:
    import dlib

    return dlib.shape_predictor(
        str(package_file("face_recognition_models", "models", "shape_predictor_5_face_landmarks.dat"))
    )


def _predictor_box(box: np.ndarray) -> dlib.rectangle:
    import dlib

    left, top, right, bottom = (float(value) for value in box)
    top += FOREHEAD_SHARE * (bottom - top)
    return dlib.rectangle(round(left), round(top), round(right), round(bottom))


def five_point_shape(pixels: np.ndarray, box: np.ndarray) -> dlib.full_object_detection:
    """dlib's five points (eye corners, nose base) of the face in the detector's ``box``."""
    with _DLIB_LOCK:
        return _shape_predictor()(pixels, _predictor_box(box))
