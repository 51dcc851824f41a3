"""DetectLabels' engine on real photographs that scikit-image ships, with the real models.

The ONNX models are built once (tools/build_vision_models.py) when the models dir lacks them.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data as skimage_data

# The ONNX models are built by `make models` (part of `make install`); a missing one fails with
# ModelMissingError naming the command, rather than being built or skipped here.
from nimbus.engines.vision.image import DecodedImage
from nimbus.engines.vision.labels import Label, detect_labels, image_properties
from nimbus.engines.vision.properties import simplified_color
from nimbus.engines.vision.taxonomy import CURATED_LABELS, TAXONOMY_FILE, imagenet_taxonomy


def photo(name: str) -> DecodedImage:
    return DecodedImage(getattr(skimage_data, name)(), "PNG", None)


@pytest.fixture(scope="session")
def cat_labels() -> dict[str, Label]:
    return {label.name: label for label in detect_labels(photo("chelsea"), None, 10)}


@pytest.fixture(scope="session")
def astronaut_labels() -> dict[str, Label]:
    return {label.name: label for label in detect_labels(photo("astronaut"), None, 50)}


def test_tabby_cat_is_a_cat_under_mammal_and_animal(cat_labels: dict[str, Label]) -> None:
    cat = cat_labels["Cat"]
    assert cat.confidence > 80
    assert {"Animal", "Mammal", "Pet"} <= set(cat.parents)
    assert cat.categories == ["Animals and Pets"]
    assert cat_labels["Animal"].confidence >= cat.confidence - 1e-6  # an ancestor sums its children
    assert "Person" not in cat_labels


def test_cat_box_from_the_detector_attaches_to_the_cat_label(cat_labels: dict[str, Label]) -> None:
    (instance,) = cat_labels["Cat"].instances
    assert instance.box.width > 0.7 and instance.box.height > 0.7  # the cat fills the photo


def test_astronaut_is_one_person_with_a_box_covering_her(astronaut_labels: dict[str, Label]) -> None:
    person = astronaut_labels["Person"]
    assert person.parents == []
    assert len(person.instances) == 1
    box = person.instances[0].box
    # she stands in the left two thirds, head near the top, cut off by the bottom edge
    assert box.left < 0.15 and box.top < 0.15
    assert 0.5 < box.left + box.width < 0.85 and box.top + box.height > 0.9


def test_coffee_is_coffee_and_a_beverage() -> None:
    labels = {label.name: label for label in detect_labels(photo("coffee"), None, 50)}
    coffee = labels.get("Coffee") or labels["Cup"]
    assert coffee.confidence > 50
    assert "Food and Beverage" in labels["Coffee"].categories
    assert "Beverage" in labels["Coffee"].parents


def test_min_confidence_and_max_labels_are_respected() -> None:
    image = photo("chelsea")
    everything = detect_labels(image, None, 1)
    confidences = [label.confidence for label in everything]
    assert confidences == sorted(confidences, reverse=True)
    assert all(label.confidence >= 60 for label in detect_labels(image, None, 60))
    assert len(detect_labels(image, 2, 1)) == 2
    assert [label.name for label in detect_labels(image, 3, 1)] == [label.name for label in everything[:3]]
    assert all(0 <= c <= 100 for c in confidences)


def test_taxonomy_curated_synsets_exist_and_classes_all_have_labels() -> None:
    taxonomy = imagenet_taxonomy()
    text = TAXONOMY_FILE.read_text()
    assert all(f'"{synset_id}"' in text for synset_id in CURATED_LABELS)
    assert len(taxonomy.class_labels) == 1000
    assert all(names for names in taxonomy.class_labels)
    assert taxonomy.describe("Car").parents == ("Vehicle", "Transportation")


def test_image_properties_measure_brightness_sharpness_and_colours() -> None:
    cat = image_properties(photo("chelsea"))
    assert 0 <= cat.brightness <= 100 and 0 <= cat.sharpness <= 100
    assert sum(colour.pixel_percent for colour in cat.dominant_colors) == pytest.approx(100)
    assert cat.dominant_colors[0].hex_code.startswith("#")

    flat = DecodedImage(np.full((64, 64, 3), (200, 30, 30), dtype=np.uint8), "PNG", None)
    flat_properties = image_properties(flat)
    assert flat_properties.sharpness == 0
    assert flat_properties.dominant_colors[0].simplified_color == "red"
    assert flat_properties.dominant_colors[0].pixel_percent == pytest.approx(100)

    blocky = photo("chelsea").pixels[::4, ::4].repeat(4, axis=0).repeat(4, axis=1)
    blurred = DecodedImage(np.ascontiguousarray(blocky), "PNG", None)
    assert image_properties(blurred).sharpness < cat.sharpness
    dark = DecodedImage((photo("chelsea").pixels // 4).astype(np.uint8), "PNG", None)
    assert image_properties(dark).brightness < cat.brightness / 2


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((0, 0, 0), "black"),
        ((255, 255, 255), "white"),
        ((128, 128, 128), "grey"),
        ((20, 40, 220), "blue"),
        ((30, 200, 40), "green"),
        ((120, 70, 20), "brown"),
    ],
)
def test_simplified_colour_names(rgb: tuple[int, int, int], name: str) -> None:
    assert simplified_color(*rgb) == name
