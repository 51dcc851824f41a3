"""DetectText: lines, then their words, with ids, parents and geometry."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import text as text_engine
from nimbus.engines.vision.image import DecodedImage
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.face_details import bounding_box
from nimbus.services.rekognition.images import load_image

MAX_WORDS = 100  # AWS detects up to 100 words in an image
DEFAULT_WORD_MIN_CONFIDENCE = 80.0  # when a WordFilter is given without MinConfidence
MIN_SHARE_IN_REGION = 0.5  # a detection counts as inside a region of interest when half of it is


@rekognition.operation
def detect_text(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """TextModelVersion names the OCR model (PP-OCR via RapidOCR). A region of interest given as a
    Polygon is taken as the polygon's bounding box; a detection is inside a region when half of its
    box is."""
    image = load_image(ctx, request["Image"])
    return {
        "TextDetections": text_detections(image, request.get("Filters") or {}),
        "TextModelVersion": text_engine.TEXT_MODEL_VERSION,
    }


def text_detections(image: DecodedImage, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """LINE then WORD detections that pass the WordFilter and the RegionsOfInterest."""
    word_filter = filters.get("WordFilter")
    regions = [_region_box(region) for region in filters.get("RegionsOfInterest") or ()]
    lines, words = [], []
    for line in text_engine.detect_text(image):
        kept_words = [word for word in line.words if _kept(word, word_filter, regions)]
        if not kept_words or not _kept(line, word_filter, regions):
            continue
        if len(words) + len(kept_words) > MAX_WORDS:
            break
        lines.append(line)
        words.extend((len(lines) - 1, word) for word in kept_words)
    detections = [_detection(line, "LINE", index) for index, line in enumerate(lines)]
    for offset, (parent, word) in enumerate(words):
        detections.append({**_detection(word, "WORD", len(lines) + offset), "ParentId": parent})
    return detections


def _detection(
    found: text_engine.TextLine | text_engine.TextWord, kind: str, detection_id: int
) -> dict[str, Any]:
    return {
        "DetectedText": found.text,
        "Type": kind,
        "Id": detection_id,
        "Confidence": found.confidence,
        "Geometry": {
            "BoundingBox": bounding_box(found.box),
            "Polygon": [{"X": point.x, "Y": point.y} for point in found.polygon],
        },
    }


def _region_box(region: dict[str, Any]) -> tuple[float, float, float, float]:
    """A region of interest as (left, top, right, bottom), relative to the image."""
    if region.get("BoundingBox"):
        box = region["BoundingBox"]
        left, top = box.get("Left", 0.0), box.get("Top", 0.0)
        return left, top, left + box.get("Width", 1.0), top + box.get("Height", 1.0)
    points = region.get("Polygon") or [{"X": 0.0, "Y": 0.0}, {"X": 1.0, "Y": 1.0}]
    xs, ys = [point.get("X", 0.0) for point in points], [point.get("Y", 0.0) for point in points]
    return min(xs), min(ys), max(xs), max(ys)


def _kept(
    found: text_engine.TextLine | text_engine.TextWord,
    word_filter: dict[str, Any] | None,
    regions: list[tuple[float, float, float, float]],
) -> bool:
    box = found.box
    if word_filter is not None and (
        found.confidence < word_filter.get("MinConfidence", DEFAULT_WORD_MIN_CONFIDENCE)
        or box.height < word_filter.get("MinBoundingBoxHeight", 0.0)
        or box.width < word_filter.get("MinBoundingBoxWidth", 0.0)
    ):
        return False
    return not regions or any(_share_inside(box, region) >= MIN_SHARE_IN_REGION for region in regions)


def _share_inside(box: Any, region: tuple[float, float, float, float]) -> float:
    left, top, right, bottom = region
    width = max(0.0, min(box.left + box.width, right) - max(box.left, left))
    height = max(0.0, min(box.top + box.height, bottom) - max(box.top, top))
    area = box.width * box.height
    return width * height / area if area > 0 else 0.0
