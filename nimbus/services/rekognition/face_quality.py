"""QualityFilter: which detected faces are good enough to compare, index or search.

AWS does not publish its quality bars; these are Nimbus's, measured on what the face engine reports
(detector confidence, head pose, face-crop brightness and sharpness, face size in pixels):

| bar | confidence | abs(yaw), abs(pitch) | brightness | sharpness | shorter face side |
| --- | --- | --- | --- | --- | --- |
| LOW | 50 | 75 degrees | 10 | 5 | 24 px |
| MEDIUM (and AUTO) | 70 | 60 degrees | 20 | 15 | 40 px |
| HIGH | 90 | 45 degrees | 30 | 30 | 64 px |

A face below a bar on any measure is filtered, with one reason per measure it fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from nimbus.engines.vision.faces import Face
from nimbus.engines.vision.image import DecodedImage


@dataclass(frozen=True)
class QualityBar:
    confidence: float
    max_pose_degrees: float
    brightness: float
    sharpness: float
    min_face_pixels: float


_MEDIUM = QualityBar(confidence=70, max_pose_degrees=60, brightness=20, sharpness=15, min_face_pixels=40)
QUALITY_BARS: dict[str, QualityBar | None] = {
    "NONE": None,
    "LOW": QualityBar(confidence=50, max_pose_degrees=75, brightness=10, sharpness=5, min_face_pixels=24),
    "MEDIUM": _MEDIUM,
    "AUTO": _MEDIUM,
    "HIGH": QualityBar(confidence=90, max_pose_degrees=45, brightness=30, sharpness=30, min_face_pixels=64),
}


def quality_reasons(face: Face, image: DecodedImage, quality_filter: str) -> list[str]:
    """Why ``face`` fails the bar, as Rekognition's reasons (LOW_CONFIDENCE...); [] if it passes."""
    bar = QUALITY_BARS[quality_filter]
    if bar is None:
        return []
    box = face.bounding_box
    shorter_side = min(box.width * image.width, box.height * image.height)
    failures = {
        "LOW_CONFIDENCE": face.confidence < bar.confidence,
        "EXTREME_POSE": max(abs(face.pose.yaw), abs(face.pose.pitch)) > bar.max_pose_degrees,
        "LOW_BRIGHTNESS": face.quality.brightness < bar.brightness,
        "LOW_SHARPNESS": face.quality.sharpness < bar.sharpness,
        "SMALL_BOUNDING_BOX": shorter_side < bar.min_face_pixels,
    }
    return [reason for reason, failed in failures.items() if failed]
