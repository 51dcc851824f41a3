"""DetectLabels' engine on real photographs that scikit-image ships, with the real models.

The ONNX models are built once (tools/build_vision_models.py) when the models dir lacks them.
"""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data as skimage_data

# The ONNX models are built by `make models` (part of `make install`); a missing one fails with
# ModelMissingError naming the command, rather than being built or skipped here.
from nimbus.engines.vision import objects
from nimbus.engines.vision.boxes import ClassifiedBoxes
from nimbus.engines.vision.geometry import Box
from nimbus.engines.vision.image import DecodedImage
from nimbus.engines.vision.labels import (
    Instance,
    Label,
    detect_labels,
    image_properties,
    without_rivals_of_boxes,
)
from nimbus.engines.vision.properties import simplified_color
from nimbus.engines.vision.ssd import anchors as ssd_anchors
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


def test_two_detectors_of_one_object_fuse_into_one_object_that_outranks_either() -> None:
    box = np.array([[10.0, 10.0, 110.0, 210.0]])
    nano = ClassifiedBoxes(box, np.array([0.6]), np.array([0]))
    ssd = ClassifiedBoxes(box + 4, np.array([0.7]), np.array([0]))
    other_class = ClassifiedBoxes(box, np.array([0.9]), np.array([2]))
    (fused,) = objects.fuse([nano, ssd])
    assert fused.scores == (0.6, 0.7) and fused.raw_score == pytest.approx(0.65)
    assert np.allclose(fused.box, (box[0] * 0.6 + (box[0] + 4) * 0.7) / 1.3)
    alone = {o.coco_class: o for o in objects.fuse([nano, other_class])}
    assert alone[0].scores == (0.6, 0.0) and alone[2].scores == (0.0, 0.9)
    confidences = [objects.calibrated_confidence(p) for p in (0.1, 0.3, 0.5, 0.65, 0.9)]
    assert confidences == sorted(confidences) and confidences[-1] > 95  # calibration keeps the order


def test_ssd_anchors_match_its_box_predictors() -> None:
    # 19x19 cells with 3 boxes, then 10, 5, 3, 2 and 1 cells with 6 boxes each
    assert ssd_anchors().shape == (19 * 19 * 3 + (100 + 25 + 9 + 4 + 1) * 6, 4)


def test_a_boxed_object_wins_over_the_classifiers_rival_name() -> None:
    taxonomy = imagenet_taxonomy()
    bicycle = Label("Bicycle", 92.0, list(taxonomy.describe("Bicycle").parents), ["Vehicles and Automotive"])
    bicycle.instances.append(Instance(Box(0.1, 0.1, 0.5, 0.5), 92.0))
    unicycle = Label(
        "Unicycle", 79.0, list(taxonomy.describe("Unicycle").parents), ["Vehicles and Automotive"]
    )
    vehicle = Label("Vehicle", 95.0, list(taxonomy.describe("Vehicle").parents), ["Vehicles and Automotive"])
    kept = without_rivals_of_boxes({"Bicycle": bicycle, "Unicycle": unicycle, "Vehicle": vehicle})
    assert set(kept) == {"Bicycle", "Vehicle"}
