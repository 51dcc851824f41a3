"""DetectLabels: what the picture shows (ImageNet classifier plus COCO detector) and its properties."""

from __future__ import annotations

from functools import cache
from typing import Any

from PIL import ImageColor

from nimbus.engines.vision import labels as label_engine
from nimbus.engines.vision.image import DecodedImage
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.face_details import bounding_box
from nimbus.services.rekognition.images import load_image

LABEL_MODEL_VERSION = "3.0"
DEFAULT_MIN_CONFIDENCE = 55.0
DEFAULT_MAX_DOMINANT_COLORS = 10


@rekognition.operation
def detect_labels(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Labels come from an ImageNet-1k classifier and two fused COCO detectors (instances only for
    COCO's 80 classes), so the vocabulary is far smaller than AWS's; Aliases are the other names WordNet
    gives a label's synset. ImageProperties gives at most 5 dominant colours and no Foreground or
    Background."""
    image = load_image(ctx, request["Image"], label_engine.DECODE_SIDE)
    features = set(request.get("Features") or ["GENERAL_LABELS"])
    settings = request.get("Settings") or {}
    output: dict[str, Any] = {"LabelModelVersion": LABEL_MODEL_VERSION}
    if "GENERAL_LABELS" in features:
        min_confidence = request.get("MinConfidence", DEFAULT_MIN_CONFIDENCE)
        found = label_engine.detect_labels(image, None, min_confidence)
        kept = [label for label in found if passes_filters(label, settings.get("GeneralLabels") or {})]
        output["Labels"] = [label_shape(label) for label in kept[: request.get("MaxLabels")]]
    if "IMAGE_PROPERTIES" in features:
        max_colors = (settings.get("ImageProperties") or {}).get(
            "MaxDominantColors", DEFAULT_MAX_DOMINANT_COLORS
        )
        output["ImageProperties"] = _image_properties(image, max_colors)
    return output


def passes_filters(label: label_engine.Label, filters: dict[str, Any]) -> bool:
    """Inclusion filters (by name or by category) keep only what they name; exclusions then remove."""
    included_names = set(filters.get("LabelInclusionFilters") or ())
    included_categories = set(filters.get("LabelCategoryInclusionFilters") or ())
    categories = set(label.categories)
    if (included_names or included_categories) and not (
        label.name in included_names or categories & included_categories
    ):
        return False
    excluded_categories = set(filters.get("LabelCategoryExclusionFilters") or ())
    return label.name not in set(filters.get("LabelExclusionFilters") or ()) and not (
        categories & excluded_categories
    )


def label_shape(label: label_engine.Label) -> dict[str, Any]:
    return {
        "Name": label.name,
        "Confidence": label.confidence,
        "Instances": [
            {"BoundingBox": bounding_box(instance.box), "Confidence": instance.confidence}
            for instance in label.instances
        ],
        "Parents": [{"Name": parent} for parent in label.parents],
        "Aliases": [{"Name": alias} for alias in label.aliases],
        "Categories": [{"Name": category} for category in label.categories],
    }


def _image_properties(image: DecodedImage, max_colors: int) -> dict[str, Any]:
    properties = label_engine.image_properties(image)
    return {
        "Quality": {
            "Brightness": properties.brightness,
            "Sharpness": properties.sharpness,
            "Contrast": properties.contrast,
        },
        "DominantColors": [
            {
                "Red": colour.red,
                "Green": colour.green,
                "Blue": colour.blue,
                "HexCode": colour.hex_code.upper(),
                "CSSColor": css_color(colour.red, colour.green, colour.blue),
                "SimplifiedColor": colour.simplified_color,
                "PixelPercent": colour.pixel_percent,
            }
            for colour in properties.dominant_colors[:max_colors]
        ],
    }


@cache
def _css_palette() -> dict[str, tuple[int, int, int]]:
    """The CSS named colours (Pillow's table of them), as RGB."""
    palette = {}
    for name in ImageColor.colormap:
        red, green, blue = ImageColor.getrgb(name)[:3]
        palette[name] = (red, green, blue)
    return palette


def css_color(red: int, green: int, blue: int) -> str:
    """The nearest CSS named colour (squared RGB distance), as AWS names a dominant colour."""
    return min(
        _css_palette().items(),
        key=lambda item: (item[1][0] - red) ** 2 + (item[1][1] - green) ** 2 + (item[1][2] - blue) ** 2,
    )[0]
