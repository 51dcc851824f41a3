"""Engine faces as Rekognition's shapes: BoundingBox, FaceDetail, ComparedFace.

The engine has no model for Beard, Mustache, Eyeglasses, Sunglasses, FaceOccluded or EyeDirection,
nor for the CONFUSED emotion and the pupil landmarks, so those are never in a FaceDetail, even
with ``Attributes=["ALL"]``. Faces too small or turned too far for the face mesh have the five
keypoint landmarks only, and no EyesOpen or MouthOpen.
"""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision.faces import BinaryAttribute, Face

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


def _binary(attribute: BinaryAttribute | None) -> dict[str, Any] | None:
    return None if attribute is None else {"Value": attribute.value, "Confidence": attribute.confidence}


def face_detail(face: Face, wanted: frozenset[str]) -> dict[str, Any]:
    detail = compared_face(face)
    found = face.attributes
    if found is None or not wanted:
        return detail
    optional: dict[str, tuple[str, Any]] = {
        "AGE_RANGE": ("AgeRange", {"Low": found.age_range.low, "High": found.age_range.high}),
        "SMILE": ("Smile", _binary(found.smile)),
        "GENDER": ("Gender", {"Value": found.gender.value, "Confidence": found.gender.confidence}),
        "EYES_OPEN": ("EyesOpen", _binary(found.eyes_open)),
        "MOUTH_OPEN": ("MouthOpen", _binary(found.mouth_open)),
        "EMOTIONS": (
            "Emotions",
            [{"Type": emotion.type, "Confidence": emotion.confidence} for emotion in found.emotions],
        ),
    }
    for name in sorted(wanted):
        member, value = optional[name]
        if value is not None:  # EyesOpen/MouthOpen need the mesh, which small or turned faces lack
            detail[member] = value
    return detail
