"""What the detector's five keypoints alone give: landmarks and head pose, for faces the
468-point mesh cannot fit (small faces, faces turned far into profile).

Pose: the keypoints (eye centres, nose tip, mouth corners) are matched to the same points of
MediaPipe's canonical face model (Apache-2.0; the eye centre is the mean of its two corners)
under a scaled orthographic camera, which a face far from the lens is (the faces this path
serves are small). On faces where the mesh also fits, the two poses differ by 7.6 degrees of
yaw, 5.3 of pitch and 2.6 of roll on average (bench/vision_quality.py's photos); the nose tip
is the only point off the face's plane, so pitch is the roughest.
"""

from __future__ import annotations

import numpy as np

from nimbus.engines.vision.face_detection import FaceCandidate
from nimbus.engines.vision.face_mesh import Pose, pose_of_rotation

KEYPOINT_LANDMARKS = ("eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight")  # detector order

# canonical_face_model.obj points for the five keypoints, in the model's frame (Y up, Z toward
# the viewer): image-left eye centre, image-right eye centre, nose tip, mouth corners
CANONICAL_KEYPOINTS = np.array(
    [
        (-3.151146, 2.624618, 3.465663),
        (3.151146, 2.624618, 3.465663),
        (0.0, -1.126865, 7.475604),
        (-2.456206, -4.342621, 4.283884),
        (2.456206, -4.342621, 4.283884),
    ]
)


def landmarks(candidate: FaceCandidate) -> dict[str, tuple[float, float]]:
    """Rekognition landmark name -> (x, y) in image pixels, for the five keypoints."""
    return {
        name: (float(x), float(y))
        for name, (x, y) in zip(KEYPOINT_LANDMARKS, candidate.keypoints, strict=True)
    }


def head_pose(candidate: FaceCandidate) -> Pose:
    """The rotation whose scaled orthographic projection of the canonical keypoints best fits the
    observed ones: a least-squares 2x3 projection, made the first two rows of a rotation by SVD."""
    model = CANONICAL_KEYPOINTS - CANONICAL_KEYPOINTS.mean(axis=0)
    observed = candidate.keypoints * np.array([1.0, -1.0])  # Y up, as the model
    observed = observed - observed.mean(axis=0)
    projection, *_ = np.linalg.lstsq(model, observed, rcond=None)
    u, _, vt = np.linalg.svd(projection.T, full_matrices=False)
    rows = u @ vt
    return pose_of_rotation(np.vstack([rows, np.cross(rows[0], rows[1])]))
