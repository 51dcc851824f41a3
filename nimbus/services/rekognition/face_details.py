"""Engine faces as Rekognition's shapes: BoundingBox, FaceDetail, ComparedFace.

The engine has no model for Beard, Mustache, Eyeglasses, Sunglasses, FaceOccluded or EyeDirection,
nor for the CONFUSED emotion and the pupil landmarks, so those are never in a FaceDetail, even
with ``Attributes=["ALL"]``.
"""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision.faces import Face

# attributes the engine computes only on request (an extra model each), by Rekognition's names
COMPUTED_ATTRIBUTES = frozenset({"AGE_RANGE", "GENDER", "EMOTIONS", "SMILE", "EYES_OPEN", "MOUTH_OPEN"})


def bounding_box(box: Any) -> dict[str, float]:
    """Any of the engines' relative boxes (left, top, width, height) as a BoundingBox."""
    return {"Width": box.width, "Height": box.height, "Left": box.left, "Top": box.top}


def requested_attributes(attributes: list[str] | None) -> frozenset[str]:
    """The optional attributes asked for: ``ALL`` means every one the engine computes; ``DEFAULT``
    (always returned) and attributes it cannot compute add nothing."""
    asked = set(attributes or ())
    return COMPUTED_ATTRIBUTES if "ALL" in asked else COMPUTED_ATTRIBUTES & asked


def compared_face(face: Face) -> dict[str, Any]:
    """What every face answer holds: box, confidence, landmarks, pose and quality."""
    return {
        "BoundingBox": bounding_box(face.bounding_box),
        "Confidence": face.confidence,
        "Landmarks": [{"Type": mark.type, "X": mark.x, "Y": mark.y} for mark in face.landmarks],
        "Pose": {"Roll": face.pose.roll, "Yaw": face.pose.yaw, "Pitch": face.pose.pitch},
        "Quality": {"Brightness": face.quality.brightness, "Sharpness": face.quality.sharpness},
    }


def face_detail(face: Face, wanted: frozenset[str]) -> dict[str, Any]:
    detail = compared_face(face)
    found = face.attributes
    if found is None or not wanted:
        return detail
    optional: dict[str, dict[str, Any]] = {
        "AGE_RANGE": {"AgeRange": {"Low": found.age_range.low, "High": found.age_range.high}},
        "SMILE": {"Smile": {"Value": found.smile.value, "Confidence": found.smile.confidence}},
        "GENDER": {"Gender": {"Value": found.gender.value, "Confidence": found.gender.confidence}},
        "EYES_OPEN": {"EyesOpen": {"Value": found.eyes_open.value, "Confidence": found.eyes_open.confidence}},
        "MOUTH_OPEN": {
            "MouthOpen": {"Value": found.mouth_open.value, "Confidence": found.mouth_open.confidence}
        },
        "EMOTIONS": {
            "Emotions": [
                {"Type": emotion.type, "Confidence": emotion.confidence} for emotion in found.emotions
            ]
        },
    }
    for name in sorted(wanted):
        detail.update(optional[name])
    return detail
