"""RecognizeCelebrities: Nimbus has no celebrity database, so every face it finds is unrecognized."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import faces as face_engine
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.face_details import compared_face
from nimbus.services.rekognition.images import load_image

MAX_FACES = 64  # AWS recognizes up to 64 celebrities in an image


@rekognition.operation
def recognize_celebrities(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """There is no celebrity database: CelebrityFaces is always empty and every detected face is in
    UnrecognizedFaces."""
    image = load_image(ctx, request["Image"], face_engine.DECODE_SIDE)
    found = face_engine.detect_faces(image)[:MAX_FACES]
    return {"CelebrityFaces": [], "UnrecognizedFaces": [compared_face(face) for face in found]}
