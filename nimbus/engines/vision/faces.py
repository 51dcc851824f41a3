"""Faces: detection with landmarks, pose and quality; attributes; descriptors for comparison.

The engine behind Rekognition's DetectFaces, CompareFaces, IndexFaces and SearchFaces; it
knows the models, not AWS's request shapes. Each stage is in its own module:
  face_detection   RetinaFace at two scales: boxes, probabilities, five keypoints (faces from ~20 px)
  face_confidence  the detector's probability calibrated into Rekognition's Confidence
  face_mesh        468-point mesh: the other landmarks, pose, eyes and mouth open
  face_keypoints   landmarks and pose from the five keypoints, where the mesh does not fit
  face_attributes  age range, gender, emotions and smile, image quality
  face_chips       dlib's five-point shape, along which age and gender see the face
  face_embedding   SFace 128-d descriptors of aligned faces and the similarity mapping
  face_embedding_dlib  dlib's ResNet descriptors, kept for collections indexed with them
Models load lazily, once per process, and are safe to call from several threads.

The detector decides what is a face and where its box is. The mesh, fitted in the detector's
box, adds 23 landmarks, a finer pose and eyes/mouth openness when it recognises the face in
its crop (presence >= 0.5); faces too small (under ~60 px) or turned too far for it get the
five keypoint landmarks, the keypoint pose, and no EyesOpen/MouthOpen.

Not reported, for want of a model or a sound measurement: Beard, Mustache, Eyeglasses,
Sunglasses, FaceOccluded, EyeDirection, the CONFUSED emotion, and the leftPupil and
rightPupil landmarks (the mesh gives the eye contour, not the pupil).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from nimbus.engines.vision import (
    face_attributes,
    face_chips,
    face_embedding,
    face_embedding_dlib,
    face_keypoints,
    face_mesh,
)
from nimbus.engines.vision.face_attributes import AgeRange, Gender, Quality
from nimbus.engines.vision.face_confidence import calibrated_confidence
from nimbus.engines.vision.face_detection import FINE_SIDE, FaceCandidate, find_faces
from nimbus.engines.vision.face_mesh import BinaryAttribute, FaceMesh, Pose
from nimbus.engines.vision.geometry import Box
from nimbus.engines.vision.image import DecodedImage

SMILE_PROBABILITY = 0.5
# the face descriptor networks by name; descriptors of different networks cannot be compared
DESCRIPTORS = {"dlib-resnet": face_embedding_dlib, "sface": face_embedding}
LATEST_DESCRIPTOR = "sface"
DECODE_SIDE = FINE_SIDE  # the widest view of a photo the face engine takes


@dataclass(frozen=True)
class Landmark:
    type: str  # Rekognition's LandmarkType name
    x: float  # relative to the image width
    y: float  # relative to the image height


@dataclass(frozen=True)
class Emotion:
    type: str  # Rekognition's EmotionName
    confidence: float  # 0-100


@dataclass(frozen=True)
class FaceAttributes:
    age_range: AgeRange
    gender: Gender
    smile: BinaryAttribute
    eyes_open: BinaryAttribute | None  # None where the mesh does not fit the face
    mouth_open: BinaryAttribute | None
    emotions: list[Emotion]  # most likely first


@dataclass(frozen=True)
class Face:
    bounding_box: Box
    confidence: float  # 0-100: the detector's probability, calibrated
    landmarks: list[Landmark]
    pose: Pose
    quality: Quality
    attributes: FaceAttributes | None  # only when asked for
    detection: FaceCandidate = field(repr=False, compare=False)


def detect_faces(image: DecodedImage, attributes: bool = False) -> list[Face]:
    """Every face in the image, largest first."""
    picture = Image.fromarray(image.pixels)
    faces = [_face(image, picture, candidate, attributes) for candidate in find_faces(image.pixels)]
    return sorted(faces, key=lambda face: face.bounding_box.width * face.bounding_box.height, reverse=True)


def embed_faces(
    image: DecodedImage, faces: list[Face], descriptor: str = LATEST_DESCRIPTOR
) -> list[np.ndarray]:
    """A 128-d ``descriptor`` for each face, in order; compare them with ``similarity``."""
    return [DESCRIPTORS[descriptor].embed(image.pixels, face.detection) for face in faces]


def similarity(first: np.ndarray, second: np.ndarray, descriptor: str = LATEST_DESCRIPTOR) -> float:
    """0-100 for two descriptors of one kind; 80 and above is the same person (Rekognition's
    default match threshold)."""
    return DESCRIPTORS[descriptor].similarity(first, second)


def _face(image: DecodedImage, picture: Image.Image, candidate: FaceCandidate, attributes: bool) -> Face:
    mesh = face_mesh.fitted_mesh(picture, candidate)
    x0, y0, x1, y1 = np.clip(candidate.box, 0, [image.width, image.height] * 2)
    marks = face_mesh.landmarks(mesh) if mesh else face_keypoints.landmarks(candidate)
    return Face(
        bounding_box=Box(
            float(x0) / image.width,
            float(y0) / image.height,
            float(x1 - x0) / image.width,
            float(y1 - y0) / image.height,
        ),
        confidence=calibrated_confidence(candidate.score),
        landmarks=[Landmark(name, x / image.width, y / image.height) for name, (x, y) in marks.items()],
        pose=face_mesh.head_pose(mesh) if mesh else face_keypoints.head_pose(candidate),
        quality=face_attributes.quality(picture, candidate.box),
        attributes=_attributes(image, picture, candidate, mesh) if attributes else None,
        detection=candidate,
    )


def _attributes(
    image: DecodedImage, picture: Image.Image, candidate: FaceCandidate, mesh: FaceMesh | None
) -> FaceAttributes:
    shape = face_chips.five_point_shape(image.pixels, candidate.box)
    emotion_scores = face_attributes.emotions(picture, candidate.box)
    happy = emotion_scores["HAPPY"] / 100.0
    smiling = happy >= SMILE_PROBABILITY
    return FaceAttributes(
        age_range=face_attributes.age_range(image.pixels, shape),
        gender=face_attributes.gender(image.pixels, shape),
        smile=BinaryAttribute(smiling, 100.0 * (happy if smiling else 1.0 - happy)),
        eyes_open=face_mesh.eyes_open(mesh) if mesh else None,
        mouth_open=face_mesh.mouth_open(mesh) if mesh else None,
        emotions=[
            Emotion(name, score)
            for name, score in sorted(emotion_scores.items(), key=lambda item: item[1], reverse=True)
        ],
    )
