"""Object detection quality on COCO val2017 photos: each detector alone, the fused pair, and the
calibration of the fused Confidence.

COCO's images and annotations are not in any package this machine's registries serve, so the
photos are read from a folder the user gives, in COCO's own layout (``<dir>/val2017/*.jpg`` and
``<dir>/annotations/instances_val2017.json``, any subset of val2017; several folders may be
given). Get them from https://cocodataset.org (val2017.zip and annotations_trainval2017.zip).
Without a folder the script says what it would measure and stops.

Measures, on objects of at least 32x32 pixels (COCO's medium and large) and ignoring crowd
regions: AP at IoU 0.5 per class (all-point interpolation), its mean over the classes present,
and recall at Confidence >= 55 (DetectLabels' own default MinConfidence in the AWS console).
Calibration: the fused detections' Confidence against how often they are right (a reliability
table and the expected calibration error, ECE).

``--fit`` fits the calibration (Platt scaling: a logistic regression of right/wrong on the logit
of the fused raw score) on the photos of the FIRST folder only and evaluates on the others, so
the figures reported are on photos the fit never saw. It prints the SLOPE and OFFSET to put in
nimbus/engines/vision/objects.py.

    .venv/bin/python bench/object_quality.py DIR [DIR ...] [--fit]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from nimbus.engines.vision import objects
from nimbus.engines.vision.boxes import ClassifiedBoxes, iou
from nimbus.engines.vision.coco import COCO_CLASSES

MIN_AREA = 32 * 32
LARGE_AREA = 96 * 96  # COCO's "large": an object in plain view
MATCH_IOU = 0.5
RECALL_CONFIDENCE = 55.0
RELIABILITY_BINS = (0, 30, 50, 70, 80, 90, 95, 100.01)
COMMON_CLASSES = (
    "person",
    "bicycle",
    "car",
    "dog",
    "cat",
    "chair",
    "cup",
    "laptop",
    "bottle",
    "dining table",
)


@dataclass(frozen=True)
class Truth:
    coco_class: str
    box: np.ndarray
    counts: bool  # medium or large, not crowd: a miss counts against recall
    large: bool  # large and not crowd


@dataclass(frozen=True)
class Photo:
    path: Path
    truths: list[Truth]


def load_photos(folder: Path) -> list[Photo]:
    document = json.loads((folder / "annotations" / "instances_val2017.json").read_text())
    names = {category["id"]: category["name"] for category in document["categories"]}
    truths: dict[int, list[Truth]] = defaultdict(list)
    for note in document["annotations"]:
        x, y, w, h = note["bbox"]
        counts = not note.get("iscrowd") and note["area"] >= MIN_AREA
        large = not note.get("iscrowd") and note["area"] >= LARGE_AREA
        truths[note["image_id"]].append(
            Truth(names[note["category_id"]], np.array([x, y, x + w, y + h]), counts, large)
        )
    return [
        Photo(folder / "val2017" / image["file_name"], truths[image["id"]])
        for image in document["images"]
        if (folder / "val2017" / image["file_name"]).is_file()
    ]


def matched(photo: Photo, found: list[tuple[str, float, np.ndarray]]) -> list[tuple[str, float, bool | None]]:
    """(class, score, right) for each detection, best first: right when it is the best unmatched
    same-class truth at IoU >= 0.5; None (not counted) when that truth is small or a crowd."""
    used: set[int] = set()
    results = []
    for cls, score, box in sorted(found, key=lambda item: -item[1]):
        candidates = [
            (float(iou(box, truth.box[np.newaxis])[0]), index)
            for index, truth in enumerate(photo.truths)
            if truth.coco_class == cls and index not in used
        ]
        best_iou, best = max(candidates, default=(0.0, -1))
        if best_iou >= MATCH_IOU:
            used.add(best)
            results.append((cls, score, True if photo.truths[best].counts else None))
        else:
            results.append((cls, score, False))
    return results


def large_ones_found(
    photo: Photo, found: list[tuple[str, float, np.ndarray]], confidence: Callable[[float], float]
) -> tuple[int, int]:
    """(found, present) for the photo's large objects: found when a same-class detection at
    Confidence >= RECALL_CONFIDENCE overlaps it at IoU >= 0.5."""
    confident = [(cls, box) for cls, score, box in found if confidence(score) >= RECALL_CONFIDENCE]
    large = [truth for truth in photo.truths if truth.large]
    hits = sum(
        any(
            cls == truth.coco_class and iou(box, truth.box[np.newaxis])[0] >= MATCH_IOU
            for cls, box in confident
        )
        for truth in large
    )
    return hits, len(large)


def average_precision(
    results: list[tuple[str, float, bool | None]], positives: dict[str, int]
) -> dict[str, float]:
    per_class = {}
    for cls, count in positives.items():
        ranked = sorted(
            (item for item in results if item[0] == cls and item[2] is not None), key=lambda i: -i[1]
        )
        right = np.array([item[2] for item in ranked], dtype=float)
        true_positives, false_positives = np.cumsum(right), np.cumsum(1 - right)
        recall = np.concatenate([[0.0], true_positives / count, [1.0]])
        precision = np.concatenate(
            [[0.0], true_positives / np.maximum(true_positives + false_positives, 1), [0.0]]
        )
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        steps = np.flatnonzero(recall[1:] != recall[:-1])
        per_class[cls] = float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))
    return per_class


def reliability(results: list[tuple[float, bool]]) -> tuple[list[tuple[str, int, float, float]], float]:
    confidences = np.array([confidence for confidence, _ in results])
    right = np.array([flag for _, flag in results], dtype=float)
    rows, error = [], 0.0
    for low, high in itertools.pairwise(RELIABILITY_BINS):
        inside = (confidences >= low) & (confidences < high)
        if inside.any():
            mean_confidence, observed = confidences[inside].mean(), 100 * right[inside].mean()
            rows.append(
                (f"{low}-{min(high, 100):g}", int(inside.sum()), float(mean_confidence), float(observed))
            )
            error += inside.sum() * abs(mean_confidence - observed)
    return rows, error / max(len(results), 1)


def detections_by_system(pixels: np.ndarray) -> dict[str, tuple[list[tuple[str, float, np.ndarray]], list]]:
    """Each system's detections (class, raw score 0-1, box) and, for the fused pair, the objects."""
    from nimbus.engines.vision.nanodet import nanodet_detections
    from nimbus.engines.vision.ssd import ssd_detections

    def listed(found: ClassifiedBoxes) -> list[tuple[str, float, np.ndarray]]:
        return [
            (COCO_CLASSES[c], float(s), b)
            for b, s, c in zip(found.boxes, found.scores, found.classes, strict=True)
        ]

    nano = nanodet_detections(pixels, objects.DETECTOR_MIN_SCORE)
    ssd = ssd_detections(pixels, objects.DETECTOR_MIN_SCORE)
    fused = objects.fuse([nano, ssd])
    return {
        "NanoDet-g alone": (listed(nano), []),
        "SSD MobileNet V2 alone": (listed(ssd), []),
        "fused (Nimbus)": ([(COCO_CLASSES[o.coco_class], o.raw_score, o.box) for o in fused], fused),
    }


def fit_calibration(raw_and_right: list[tuple[float, bool]]) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    raw = np.clip(np.array([score for score, _ in raw_and_right]), 1e-6, 1 - 1e-6)
    logits = np.log(raw / (1 - raw))[:, np.newaxis]
    model = LogisticRegression(C=1.0).fit(logits, np.array([right for _, right in raw_and_right], dtype=int))
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="COCO val2017 subsets (see above)")
    parser.add_argument("--fit", action="store_true", help="fit the calibration on the first folder")
    arguments = parser.parse_args()
    if not arguments.folders:
        print("No COCO folder given: object detection quality not measured (see the docstring).")
        return
    sets = [load_photos(folder) for folder in arguments.folders]
    fit_set, test_photos = (
        (sets[0], [p for s in sets[1:] for p in s]) if arguments.fit else ([], [p for s in sets for p in s])
    )
    seen = {photo.path.name for photo in fit_set}
    test_photos = [photo for photo in test_photos if photo.path.name not in seen]
    if arguments.fit:
        pairs = []
        for photo in fit_set:
            pixels = np.asarray(Image.open(photo.path).convert("RGB"))
            found = detections_by_system(pixels)["fused (Nimbus)"][0]
            pairs += [(score, bool(right)) for _, score, right in matched(photo, found) if right is not None]
        objects.SLOPE, objects.OFFSET = fit_calibration(pairs)
        print(f"Calibration fitted on {len(fit_set)} photos ({len(pairs)} detections): "
              f"SLOPE = {objects.SLOPE:.3f}, OFFSET = {objects.OFFSET:.3f}")  # fmt: skip
    results: dict[str, list] = defaultdict(list)
    positives: dict[str, int] = defaultdict(int)
    large_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    # the earlier engine reported NanoDet's raw score as Confidence; Nimbus reports the calibrated one
    confidence_of = {
        "NanoDet-g alone": lambda score: 100 * score,
        "fused (Nimbus)": objects.calibrated_confidence,
    }
    started = time.perf_counter()
    for photo in test_photos:
        for truth in photo.truths:
            positives[truth.coco_class] += truth.counts
        pixels = np.asarray(Image.open(photo.path).convert("RGB"))
        for system, (found, _) in detections_by_system(pixels).items():
            results[system] += matched(photo, found)
            if system in confidence_of:
                hits, present = large_ones_found(photo, found, confidence_of[system])
                large_counts[system][0] += hits
                large_counts[system][1] += present
    elapsed = (time.perf_counter() - started) / max(len(test_photos), 1)
    positives = {cls: count for cls, count in positives.items() if count}
    print(f"\n{len(test_photos)} photos, {sum(positives.values())} objects of {len(positives)} classes "
          f"(>= 32x32 px, not crowd); {elapsed:.2f} s a photo for all three rows\n")  # fmt: skip
    header = "| system | mAP@0.5 | " + " | ".join(COMMON_CLASSES) + " |"
    print(header + "\n|" + "---|" * (header.count("|") - 1))
    for system, system_results in results.items():
        per_class = average_precision(system_results, positives)
        cells = [f"{per_class[c]:.2f} ({positives[c]})" if c in per_class else "-" for c in COMMON_CLASSES]
        print(f"| {system} | {np.mean(list(per_class.values())):.3f} | " + " | ".join(cells) + " |")
    counted = [item for item in results["fused (Nimbus)"] if item[2] is not None]
    fused = [(objects.calibrated_confidence(score), bool(right)) for _, score, right in counted]
    recalled = sum(
        1
        for _, score, right in counted
        if right and objects.calibrated_confidence(score) >= RECALL_CONFIDENCE
    )
    print(f"\nFused recall at Confidence >= {RECALL_CONFIDENCE:g}: {recalled}/{sum(positives.values())} = "
          f"{recalled / sum(positives.values()):.1%}")  # fmt: skip
    for system, (hits, present) in large_counts.items():
        print(f"{system}: large objects (>= 96x96 px) found at Confidence >= {RECALL_CONFIDENCE:g}: "
              f"{hits}/{present} = {hits / max(present, 1):.1%}")  # fmt: skip
    rows, error = reliability(fused)
    _, raw_error = reliability([(100 * score, bool(right)) for _, score, right in counted])
    print(f"Calibration: ECE {error:.1f} points (uncalibrated raw score: {raw_error:.1f})\n")
    print("| Confidence | detections | mean Confidence | right % |\n|---|---:|---:|---:|")
    for label, count, mean_confidence, observed in rows:
        print(f"| {label} | {count} | {mean_confidence:.1f} | {observed:.1f} |")


if __name__ == "__main__":
    main()
