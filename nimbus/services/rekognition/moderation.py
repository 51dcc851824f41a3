"""DetectModerationLabels: unsafe content, on Rekognition's moderation taxonomy."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import moderation as moderation_engine
from nimbus.engines.vision.image import DecodedImage
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.errors import invalid_parameter
from nimbus.services.rekognition.images import load_image

DEFAULT_MIN_CONFIDENCE = 50.0


@rekognition.operation
def detect_moderation_labels(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """One model (open_nsfw) scores nudity only: the labels are Explicit and Explicit Nudity, never
    the other categories (violence, drugs, hate symbols...); ModerationModelVersion names that model.
    Custom moderation adapters (ProjectVersion) and human review (HumanLoopConfig) are refused."""
    if request.get("ProjectVersion") or request.get("HumanLoopConfig"):
        raise invalid_parameter("Nimbus has no custom moderation adapters or human review loops.")
    image = load_image(ctx, request["Image"], moderation_engine.DECODE_SIDE)
    min_confidence = request.get("MinConfidence", DEFAULT_MIN_CONFIDENCE)
    return {
        "ModerationLabels": moderation_labels(image, min_confidence),
        "ModerationModelVersion": moderation_engine.MODERATION_MODEL_VERSION,
    }


def moderation_labels(image: DecodedImage, min_confidence: float) -> list[dict[str, Any]]:
    return [
        {
            "Name": label.name,
            "ParentName": label.parent_name,
            "TaxonomyLevel": label.taxonomy_level,
            "Confidence": label.confidence,
        }
        for label in moderation_engine.detect_moderation(image)
        if label.confidence >= min_confidence
    ]
