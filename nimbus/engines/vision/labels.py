"""Image labels: an ImageNet classifier (EfficientNet-Lite0) for what the picture shows, and
COCO object detectors (objects.py) for where the people and common objects are, merged into one
list.

Confidence of a classifier label is the sum, in percent, of the probabilities of every
ImageNet class that supports it: the softmax sums to one, so "Cat" from five cat breeds is
their total and never passes 100, and an ancestor ("Animal") is at least as confident as any
label under it. A detected object adds its box to the label of the same name; the label's
confidence is then the larger of the classifier's and the best box's (a calibrated
probability, objects.py).

A boxed object wins over the classifier's rival names for the same kind of thing: a classifier
label that shares its nearest parent with a boxed label, without being above or below it
("Unicycle" beside a boxed "Bicycle", both under "Vehicle"), is left out when the box is at
least as confident, or confident beyond ``BOXED_LABEL_WINS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from nimbus.engines.vision.geometry import Box
from nimbus.engines.vision.image import DecodedImage
from nimbus.engines.vision.models import CLASSIFIER_FILE, session
from nimbus.engines.vision.objects import Detection, detect_objects
from nimbus.engines.vision.properties import ImageProperties, image_properties
from nimbus.engines.vision.taxonomy import Taxonomy, imagenet_taxonomy

__all__ = ["ImageProperties", "Instance", "Label", "detect_labels", "image_properties"]

CLASSIFIER_SIZE = 224
CENTRE_CROP = 224 / 256  # EfficientNet's evaluation crop
PIXEL_MEAN, PIXEL_STD = 127.0, 128.0  # EfficientNet-Lite's input normalisation
DETECTION_FLOOR = 50.0  # a box is reported only when it is more likely right than wrong (calibrated)
BOXED_LABEL_WINS = 90.0
DECODE_SIDE = 1000  # the classifier and detectors look at 224-416 pixels; properties need no more

# COCO class -> (label name, the taxonomy label whose parents it shares, or None to use its own name)
COCO_LABELS: dict[str, tuple[str, str | None]] = {
    "person": ("Person", None),
    "bicycle": ("Bicycle", None),
    "car": ("Car", None),
    "motorcycle": ("Motorcycle", None),
    "airplane": ("Airplane", None),
    "bus": ("Bus", None),
    "train": ("Train", None),
    "truck": ("Truck", None),
    "boat": ("Boat", None),
    "bird": ("Bird", None),
    "cat": ("Cat", None),
    "dog": ("Dog", None),
    "horse": ("Horse", None),
    "sheep": ("Sheep", "Mammal"),
    "cow": ("Cow", "Cattle"),
    "elephant": ("Elephant", None),
    "bear": ("Bear", None),
    "zebra": ("Zebra", "Mammal"),
    "giraffe": ("Giraffe", "Mammal"),
    "cup": ("Cup", None),
    "bottle": ("Bottle", None),
    "wine glass": ("Wine Glass", "Cup"),
    "chair": ("Chair", "Furniture"),
    "couch": ("Couch", None),
    "dining table": ("Dining Table", "Table"),
    "bed": ("Bed", "Furniture"),
    "potted plant": ("Potted Plant", "Plant"),
    "tv": ("TV", "Electronics"),
    "laptop": ("Laptop", "Computer"),
    "cell phone": ("Mobile Phone", "Phone"),
    "clock": ("Clock", None),
    "banana": ("Banana", "Fruit"),
    "apple": ("Apple", "Fruit"),
    "orange": ("Orange", "Fruit"),
    "broccoli": ("Broccoli", "Vegetable"),
    "carrot": ("Carrot", "Vegetable"),
    "pizza": ("Pizza", "Food"),
    "sandwich": ("Sandwich", "Food"),
    "hot dog": ("Hot Dog", "Food"),
    "donut": ("Donut", "Dessert"),
    "cake": ("Cake", "Dessert"),
    "sports ball": ("Ball", None),
    "backpack": ("Backpack", "Bag"),
    "handbag": ("Handbag", "Bag"),
    "keyboard": ("Keyboard", "Electronics"),
    "mouse": ("Mouse", "Electronics"),
    "remote": ("Remote Control", "Electronics"),
}


@dataclass(frozen=True)
class Instance:
    box: Box
    confidence: float  # 0..100


@dataclass
class Label:
    name: str
    confidence: float  # 0..100
    parents: list[str]
    categories: list[str]
    aliases: list[str] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)


def _classifier_input(pixels: np.ndarray) -> np.ndarray:
    height, width = pixels.shape[:2]
    side = max(1, round(min(height, width) * CENTRE_CROP))
    top, left = (height - side) // 2, (width - side) // 2
    crop = Image.fromarray(pixels[top : top + side, left : left + side])
    resized = np.asarray(crop.resize((CLASSIFIER_SIZE, CLASSIFIER_SIZE), Image.Resampling.BILINEAR))
    return ((resized.astype(np.float32) - PIXEL_MEAN) / PIXEL_STD).transpose(2, 0, 1)[np.newaxis]


def classify(image: DecodedImage) -> np.ndarray:
    """ImageNet-1k class probabilities (softmax of the classifier's 1000 logits)."""
    classifier = session(CLASSIFIER_FILE)
    (output,) = classifier.run(None, {classifier.get_inputs()[0].name: _classifier_input(image.pixels)})
    logits = np.asarray(output[0])
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


def _classifier_confidences(probabilities: np.ndarray, taxonomy: Taxonomy) -> dict[str, float]:
    confidences: dict[str, float] = {}
    for class_index in np.nonzero(probabilities > 1e-5)[0]:
        for name in taxonomy.class_labels[class_index]:
            confidences[name] = confidences.get(name, 0.0) + float(probabilities[class_index])
    return {name: min(100.0, total * 100) for name, total in confidences.items()}


def _new_label(name: str, confidence: float, taxonomy: Taxonomy, parent_source: str | None = None) -> Label:
    info = taxonomy.describe(name)
    if parent_source is None:
        return Label(name, confidence, list(info.parents), list(info.categories), list(info.aliases))
    source = taxonomy.describe(parent_source)
    parents = [parent_source, *(p for p in source.parents if p != name)]
    return Label(name, confidence, parents, list(source.categories), list(info.aliases))


def _rivals(label: Label, boxed: Label) -> bool:
    """Two names for the same kind of thing: the same nearest parent, neither above the other."""
    related = boxed.name in label.parents or label.name in boxed.parents
    return bool(label.parents and boxed.parents and label.parents[0] == boxed.parents[0] and not related)


def without_rivals_of_boxes(labels: dict[str, Label]) -> dict[str, Label]:
    boxed = [label for label in labels.values() if label.instances]
    return {
        name: label
        for name, label in labels.items()
        if label.instances
        or not any(
            _rivals(label, box) and (box.confidence >= label.confidence or box.confidence >= BOXED_LABEL_WINS)
            for box in boxed
        )
    }


def _attach_detections(labels: dict[str, Label], detections: list[Detection], taxonomy: Taxonomy) -> None:
    for detection in detections:
        name, parent_source = COCO_LABELS.get(detection.coco_class, (detection.coco_class.title(), None))
        if name not in labels:
            labels[name] = _new_label(name, detection.confidence, taxonomy, parent_source)
        label = labels[name]
        label.instances.append(Instance(detection.box, detection.confidence))
        label.confidence = max(label.confidence, detection.confidence)


def detect_labels(image: DecodedImage, max_labels: int | None, min_confidence: float) -> list[Label]:
    """Labels with confidence >= min_confidence (0..100), most confident first, at most max_labels."""
    taxonomy = imagenet_taxonomy()
    confidences = _classifier_confidences(classify(image), taxonomy)
    labels = {
        name: _new_label(name, confidence, taxonomy)
        for name, confidence in confidences.items()
        if confidence >= min_confidence
    }
    detections = detect_objects(image, max(min_confidence, DETECTION_FLOOR))
    _attach_detections(labels, detections, taxonomy)
    ordered = sorted(
        without_rivals_of_boxes(labels).values(), key=lambda label: label.confidence, reverse=True
    )
    return ordered if max_labels is None else ordered[:max_labels]
