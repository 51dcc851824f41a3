"""Faces: detection with landmarks, pose and quality; attributes; descriptors for comparison.

The engine behind Rekognition's DetectFaces, CompareFaces, IndexFaces and SearchFaces; it
knows the models, not AWS's request shapes. Each stage is in its own module:
  face_detection   BlazeFace full range over an image pyramid of tiles (faces down to ~40 px)
  face_mesh        468-point mesh: landmarks, bounding box, pose, eyes and mouth open
  face_attributes  age range, gender, emotions and smile, image quality
  face_embedding   dlib 128-d descriptors and the similarity mapping
Models load lazily, once per process, and are safe to call from several threads.

Not reported, for want of a model or a sound measurement: Beard, Mustache, Eyeglasses,
Sunglasses, FaceOccluded, EyeDirection, the CONFUSED emotion, and the leftPupil and
rightPupil landmarks (the mesh gives the eye contour, not the pupil).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from nimbus.engines.vision import face_attributes, face_embedding, face_mesh
from nimbus.engines.vision.face_attributes import AgeRange, Gender, Quality
from nimbus.engines.vision.face_detection import FaceCandidate, find_faces
from nimbus.engines.vision.face_mesh import BinaryAttribute, FaceMesh, Pose
from nimbus.engines.vision.geometry import Box
from nimbus.engines.vision.image import DecodedImage

SMILE_PROBABILITY = 0.5


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
    eyes_open: BinaryAttribute
    mouth_open: BinaryAttribute
    emotions: list[Emotion]  # most likely first


@dataclass(frozen=True)
class Face:
    bounding_box: Box
    confidence: float  # 0-100: the detector's score
    landmarks: list[Landmark]
    pose: Pose
    quality: Quality
    attributes: FaceAttributes | None  # only when asked for
    mesh: FaceMesh = field(repr=False, compare=False)


def detect_faces(image: DecodedImage, attributes: bool = False) -> list[Face]:
    """Every face in the image, largest first."""
    picture = Image.fromarray(image.pixels)
    faces = []
    for candidate in find_faces(image.pixels):
        mesh = face_mesh.fit_mesh(picture, candidate)
        if mesh.presence >= face_mesh.MIN_FACE_PRESENCE:
            faces.append(_face(image, picture, candidate, mesh, attributes))
    return sorted(faces, key=lambda face: face.bounding_box.width * face.bounding_box.height, reverse=True)


def embed_faces(image: DecodedImage, faces: list[Face]) -> list[np.ndarray]:
    """A 128-d descriptor for each face, in order; compare them with ``similarity``."""
    return [face_embedding.embed(image.pixels, face.mesh) for face in faces]


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """0-100; 80 and above is the same person (Rekognition's default match threshold)."""
    return face_embedding.similarity(first, second)


def _face(
    image: DecodedImage, picture: Image.Image, candidate: FaceCandidate, mesh: FaceMesh, attributes: bool
) -> Face:
    x0, y0, x1, y1 = face_mesh.bounding_box(mesh)
    return Face(
        bounding_box=Box(
            float(x0) / image.width,
            float(y0) / image.height,
            float(x1 - x0) / image.width,
            float(y1 - y0) / image.height,
        ),
        confidence=100.0 * candidate.score,
        landmarks=[
            Landmark(name, x / image.width, y / image.height)
            for name, (x, y) in face_mesh.landmarks(mesh).items()
        ],
        pose=face_mesh.head_pose(mesh),
        quality=face_attributes.quality(picture, mesh),
        attributes=_attributes(image, picture, mesh) if attributes else None,
        mesh=mesh,
    )


def _attributes(image: DecodedImage, picture: Image.Image, mesh: FaceMesh) -> FaceAttributes:
    shape = face_embedding.five_point_shape(image.pixels, mesh)
    emotion_scores = face_attributes.emotions(picture, mesh)
    happy = emotion_scores["HAPPY"] / 100.0
    smiling = happy >= SMILE_PROBABILITY
    return FaceAttributes(
        age_range=face_attributes.age_range(image.pixels, shape),
        gender=face_attributes.gender(image.pixels, shape),
        smile=BinaryAttribute(smiling, 100.0 * (happy if smiling else 1.0 - happy)),
        eyes_open=face_mesh.eyes_open(mesh),
        mouth_open=face_mesh.mouth_open(mesh),
        emotions=[
            Emotion(name, score)
            for name, score in sorted(emotion_scores.items(), key=lambda item: item[1], reverse=True)
        ],
    )
