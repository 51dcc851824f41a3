"""CompareFaces: the source image's largest face against each face of the target image."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import faces as face_engine
from nimbus.engines.vision.faces import Face
from nimbus.engines.vision.image import DecodedImage
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.errors import no_faces_in_image
from nimbus.services.rekognition.face_details import bounding_box, compared_face
from nimbus.services.rekognition.face_quality import quality_reasons
from nimbus.services.rekognition.images import load_image

DEFAULT_SIMILARITY_THRESHOLD = 80.0
MAX_TARGET_FACES = 100  # AWS compares with the 100 largest faces of the target


def faces_passing(image: DecodedImage, quality_filter: str) -> list[Face]:
    """The image's faces, largest first, that meet the quality bar."""
    return [
        face for face in face_engine.detect_faces(image) if not quality_reasons(face, image, quality_filter)
    ]


@rekognition.operation
def compare_faces(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """QualityFilter uses Nimbus's own quality bars (detector confidence, head pose, brightness,
    sharpness, face size; AWS does not publish its bars) on both images. A target image without
    faces gives empty FaceMatches and UnmatchedFaces."""
    quality_filter = request.get("QualityFilter", "NONE")
    source = load_image(ctx, request["SourceImage"], face_engine.DECODE_SIDE)
    target = load_image(ctx, request["TargetImage"], face_engine.DECODE_SIDE)
    source_faces = faces_passing(source, quality_filter)
    if not source_faces:
        raise no_faces_in_image()
    source_face = source_faces[0]
    target_faces = faces_passing(target, quality_filter)[:MAX_TARGET_FACES]
    (source_vector,) = face_engine.embed_faces(source, [source_face])
    threshold = request.get("SimilarityThreshold", DEFAULT_SIMILARITY_THRESHOLD)
    matches, unmatched = [], []
    for face, vector in zip(target_faces, face_engine.embed_faces(target, target_faces), strict=True):
        similarity = face_engine.similarity(source_vector, vector)
        if similarity >= threshold:
            matches.append({"Similarity": similarity, "Face": compared_face(face)})
        else:
            unmatched.append(compared_face(face))
    matches.sort(key=lambda match: match["Similarity"], reverse=True)
    return {
        "SourceImageFace": {
            "BoundingBox": bounding_box(source_face.bounding_box),
            "Confidence": source_face.confidence,
        },
        "FaceMatches": matches,
        "UnmatchedFaces": unmatched,
    }
