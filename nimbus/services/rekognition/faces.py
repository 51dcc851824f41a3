"""DetectFaces: every face, with landmarks, pose and quality, and the attributes asked for."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import faces as face_engine
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.face_details import face_detail, requested_attributes
from nimbus.services.rekognition.images import load_image

MAX_DETECTED_FACES = 100  # AWS reports the 100 largest faces


@rekognition.operation
def detect_faces(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Beard, Mustache, Eyeglasses, Sunglasses, FaceOccluded, EyeDirection, the CONFUSED emotion and
    the pupil landmarks are never returned (no model for them); faces smaller than about 40 pixels
    are not found."""
    image = load_image(ctx, request["Image"], face_engine.DECODE_SIDE)
    wanted = requested_attributes(request.get("Attributes"))
    found = face_engine.detect_faces(image, attributes=bool(wanted))
    return {"FaceDetails": [face_detail(face, wanted) for face in found[:MAX_DETECTED_FACES]]}
