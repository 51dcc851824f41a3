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
nimbus/engines/vision/objects.py. It then fits crop verification's regression
(object_crop_verification.py, measured here, not in the engine) on the same first folder's
doubtful boxes, and prints its WEIGHTS and INTERCEPT. Test-time tiles (object_tiles.py, measured
here, not in the engine): the variant (the weight of a box seen only in tiles, whether boxes cut by a
tile edge are dropped) is chosen by 5-fold cross-validation of mAP@0.5 on the first folder, and its
own calibration fitted there. The rows of the tables: each detector alone, the fused pair as the
engine runs it, with crop verification, with tiles; then a paired bootstrap over the test photos of
the tiles' mAP gain.

``--photo FILE`` also lists what each fused row finds in one photo (AWS's probe photo of a child
on a bicycle, for instance).

    .venv/bin/python bench/object_quality.py DIR [DIR ...] [--fit] [--photo FILE]
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
import object_crop_verification as crop_verification
import object_tiles as tiles
from PIL import Image

from nimbus.engines.vision import objects
from nimbus.engines.vision.boxes import ClassifiedBoxes, iou
from nimbus.engines.vision.coco import COCO_CLASSES
from nimbus.engines.vision.nanodet import NMS_IOU as NANODET_NMS_IOU
from nimbus.engines.vision.nanodet import nanodet_detections
from nimbus.engines.vision.ssd import NMS_IOU as SSD_NMS_IOU
from nimbus.engines.vision.ssd import ssd_detections

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


FUSED = "fused (Nimbus)"
VERIFIED = "fused + crop verification"
TILED = "fused + test-time tiles"
TILE_VARIANTS = tuple(tiles.Variant(w, d) for w in (0.4, 0.6, 0.8, 1.0) for d in (False, True))
# chosen and fitted by --fit on the first COCO subset (/tmp/coco/mini, 79 photos), used without --fit
TILE_VARIANT = tiles.Variant(0.6, True)
TILE_SLOPE, TILE_OFFSET = 2.154, -0.234
FOLDS = 5
BOOTSTRAP_RESAMPLES = 1000
Found = list[tuple[str, float, np.ndarray]]


def photo_views(pixels: np.ndarray) -> tuple[tiles.Views, tiles.Views]:
    """NanoDet's and SSD's boxes on the whole photo and its tiles."""
    return (
        tiles.detector_views(pixels, nanodet_detections, objects.DETECTOR_MIN_SCORE),
        tiles.detector_views(pixels, ssd_detections, objects.DETECTOR_MIN_SCORE),
    )


def tiled_objects(
    views: tuple[tiles.Views, tiles.Views], variant: tiles.Variant
) -> list[objects.FusedObject]:
    nano, ssd = views
    return objects.fuse(
        [tiles.merged(nano, variant, NANODET_NMS_IOU), tiles.merged(ssd, variant, SSD_NMS_IOU)]
    )


def listed(things: list[objects.FusedObject]) -> Found:
    return [(COCO_CLASSES[o.coco_class], o.raw_score, o.box) for o in things]


def detections_by_system(
    pixels: np.ndarray, views: tuple[tiles.Views, tiles.Views], variant: tiles.Variant
) -> tuple[dict[str, Found], float]:
    """Each system's detections (class, score 0-1, box; the fused pairs' raw score, crop
    verification's Confidence / 100), and the seconds crop verification added."""

    def alone(found: ClassifiedBoxes) -> Found:
        return [
            (COCO_CLASSES[c], float(s), b)
            for b, s, c in zip(found.boxes, found.scores, found.classes, strict=True)
        ]

    nano, ssd = views[0].whole, views[1].whole
    fused = objects.fuse([nano, ssd])
    started = time.perf_counter()
    confidences = crop_verification.verified_confidences(pixels, fused)
    verifying = time.perf_counter() - started
    return {
        "NanoDet-g alone": alone(nano),
        "SSD MobileNet V2 alone": alone(ssd),
        FUSED: listed(fused),
        VERIFIED: [
            (COCO_CLASSES[o.coco_class], c / 100, o.box) for o, c in zip(fused, confidences, strict=True)
        ],
        TILED: listed(tiled_objects(views, variant)),
    }, verifying


def mean_ap(photos: list[Photo], results: list[list[tuple[str, float, bool | None]]]) -> float:
    """mAP@0.5 over the classes present in these photos, from each photo's matched detections."""
    positives: dict[str, int] = defaultdict(int)
    for photo in photos:
        for truth in photo.truths:
            positives[truth.coco_class] += truth.counts
    positives = {cls: count for cls, count in positives.items() if count}
    return float(np.mean(list(average_precision([r for rs in results for r in rs], positives).values())))


def choose_tile_variant(photos: list[Photo], views: list[tuple[tiles.Views, tiles.Views]]) -> tiles.Variant:
    """The variant of the best mean mAP@0.5 over FOLDS folds of these photos (the whole-photo
    fused pair beside it)."""
    folds = [list(range(fold, len(photos), FOLDS)) for fold in range(FOLDS)]
    candidates: dict[str, Callable[[tuple[tiles.Views, tiles.Views]], Found]] = {
        "whole photo only": lambda v: listed(objects.fuse([v[0].whole, v[1].whole])),
        **{
            f"{variant}": (lambda v, variant=variant: listed(tiled_objects(v, variant)))
            for variant in TILE_VARIANTS
        },
    }
    print(f"\nTest-time tile variants, {FOLDS}-fold mAP@0.5 on the first folder (mean, then each fold):\n")
    scores = {}
    for name, detect in candidates.items():
        per_photo = [matched(photo, detect(v)) for photo, v in zip(photos, views, strict=True)]
        per_fold = [mean_ap([photos[i] for i in fold], [per_photo[i] for i in fold]) for fold in folds]
        scores[name] = float(np.mean(per_fold))
        print(f"| {name} | {scores[name]:.4f} | " + " | ".join(f"{m:.3f}" for m in per_fold) + " |")
    best = max(TILE_VARIANTS, key=lambda variant: scores[f"{variant}"])
    print(f"Chosen: {best}")
    return best


def bootstrap_gain(
    photos: list[Photo],
    base: list[list[tuple[str, float, bool | None]]],
    new: list[list[tuple[str, float, bool | None]]],
) -> tuple[float, float, float]:
    """The mAP@0.5 gain of ``new`` over ``base`` and its 95 % interval, resampling the photos."""
    generator = np.random.default_rng(0)
    gains = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        chosen = generator.integers(0, len(photos), len(photos))
        sample = [photos[i] for i in chosen]
        gains.append(mean_ap(sample, [new[i] for i in chosen]) - mean_ap(sample, [base[i] for i in chosen]))
    low, high = np.percentile(gains, [2.5, 97.5])
    return mean_ap(photos, new) - mean_ap(photos, base), float(low), float(high)


def platt(slope: float, offset: float) -> Callable[[float], float]:
    def confidence(raw: float) -> float:
        p = min(max(raw, 1e-6), 1 - 1e-6)
        return 100.0 / (1.0 + np.exp(-(slope * np.log(p / (1 - p)) + offset)))

    return confidence


def fit_calibration(raw_and_right: list[tuple[float, bool]]) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    raw = np.clip(np.array([score for score, _ in raw_and_right]), 1e-6, 1 - 1e-6)
    logits = np.log(raw / (1 - raw))[:, np.newaxis]
    model = LogisticRegression(C=1.0).fit(logits, np.array([right for _, right in raw_and_right], dtype=int))
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def fit_crop_verification(rows: list[np.ndarray], right: list[bool]) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0).fit(np.concatenate(rows), np.array(right, dtype=int))
    return model.coef_[0], float(model.intercept_[0])


def crop_training_rows(
    photo: Photo, pixels: np.ndarray, fused: list[objects.FusedObject]
) -> tuple[np.ndarray, list[bool]]:
    """Crop verification's inputs for the photo's doubtful boxes, and whether each is right."""
    things = sorted(fused, key=lambda thing: -thing.raw_score)
    results = matched(photo, [(COCO_CLASSES[t.coco_class], t.raw_score, t.box) for t in things])
    chosen = [index for index in crop_verification.to_verify(things) if results[index][2] is not None]
    return crop_verification.crop_features(pixels, things, chosen), [
        bool(results[index][2]) for index in chosen
    ]


def show_photo(
    path: Path, variant: tiles.Variant, confidence_of: dict[str, Callable[[float], float]]
) -> None:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    found, _ = detections_by_system(pixels, photo_views(pixels), variant)
    print(
        f"\n{path.name} ({pixels.shape[1]}x{pixels.shape[0]}): what each fused row finds at Confidence >= 5\n"
    )
    print("| system | detections (class Confidence) | bicycle box (x0, y0, x1, y1) |\n|---|---|---|")
    for system in (FUSED, VERIFIED, TILED):
        confidence = confidence_of[system]
        shown = sorted(
            ((cls, confidence(score), box) for cls, score, box in found[system]), key=lambda i: -i[1]
        )
        bicycles = [box for cls, c, box in shown if cls == "bicycle" and c >= 5]
        print(f"| {system} | " + ", ".join(f"{cls} {c:.1f}" for cls, c, _ in shown if c >= 5)
              + f" | {np.round(bicycles[0]).astype(int).tolist() if bicycles else '-'} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="COCO val2017 subsets (see above)")
    parser.add_argument("--fit", action="store_true", help="fit the calibration on the first folder")
    parser.add_argument("--photo", type=Path, help="also list what the fused rows find in this photo")
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
    variant, tiled_confidence = TILE_VARIANT, platt(TILE_SLOPE, TILE_OFFSET)
    if arguments.fit:
        fit_pixels = [np.asarray(Image.open(photo.path).convert("RGB")) for photo in fit_set]
        fit_views = [photo_views(pixels) for pixels in fit_pixels]
        fit_fused = [objects.fuse([nano.whole, ssd.whole]) for nano, ssd in fit_views]
        pairs = []
        for photo, fused in zip(fit_set, fit_fused, strict=True):
            pairs += [
                (score, bool(right)) for _, score, right in matched(photo, listed(fused)) if right is not None
            ]
        objects.SLOPE, objects.OFFSET = fit_calibration(pairs)
        print(f"Calibration fitted on {len(fit_set)} photos ({len(pairs)} detections): "
              f"SLOPE = {objects.SLOPE:.3f}, OFFSET = {objects.OFFSET:.3f}")  # fmt: skip
        crop_rows, crop_right = [], []
        for photo, pixels, fused in zip(fit_set, fit_pixels, fit_fused, strict=True):
            rows, right = crop_training_rows(photo, pixels, fused)
            crop_rows.append(rows)
            crop_right += right
        weights, intercept = fit_crop_verification(crop_rows, crop_right)
        crop_verification.WEIGHTS, crop_verification.INTERCEPT = weights, intercept
        print(f"Crop verification fitted on {len(crop_right)} doubtful boxes ({sum(crop_right)} right): "
              f"WEIGHTS = {np.round(weights, 3).tolist()}, INTERCEPT = {intercept:.3f}")  # fmt: skip
        variant = choose_tile_variant(fit_set, fit_views)
        tiled_pairs = []
        for photo, views in zip(fit_set, fit_views, strict=True):
            found = listed(tiled_objects(views, variant))
            tiled_pairs += [
                (score, bool(right)) for _, score, right in matched(photo, found) if right is not None
            ]
        tiled_slope, tiled_offset = fit_calibration(tiled_pairs)
        tiled_confidence = platt(tiled_slope, tiled_offset)
        print(f"Tiles' calibration fitted on {len(tiled_pairs)} detections: "
              f"SLOPE = {tiled_slope:.3f}, OFFSET = {tiled_offset:.3f}")  # fmt: skip
    results: dict[str, list] = defaultdict(list)  # system -> each photo's matched detections
    positives: dict[str, int] = defaultdict(int)
    large_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    # the earlier engine reported NanoDet's raw score as Confidence; Nimbus reports the calibrated one
    confidence_of: dict[str, Callable[[float], float]] = {
        "NanoDet-g alone": lambda score: 100 * score,
        FUSED: objects.calibrated_confidence,
        VERIFIED: lambda score: 100 * score,
        TILED: tiled_confidence,
    }
    seconds: dict[str, float] = defaultdict(float)
    for photo in test_photos:
        for truth in photo.truths:
            positives[truth.coco_class] += truth.counts
        pixels = np.asarray(Image.open(photo.path).convert("RGB"))
        started = time.perf_counter()
        objects.fused_objects(pixels)
        seconds[FUSED] += time.perf_counter() - started
        started = time.perf_counter()
        views = photo_views(pixels)
        tiled_objects(views, variant)
        seconds[TILED] += time.perf_counter() - started
        found, seconds_verifying = detections_by_system(pixels, views, variant)
        seconds[VERIFIED] += seconds_verifying
        for system, system_found in found.items():
            results[system].append(matched(photo, system_found))
            if system in confidence_of:
                hits, present = large_ones_found(photo, system_found, confidence_of[system])
                large_counts[system][0] += hits
                large_counts[system][1] += present
    count = max(len(test_photos), 1)
    positives = {cls: count for cls, count in positives.items() if count}
    print(f"\n{len(test_photos)} photos, {sum(positives.values())} objects of {len(positives)} classes "
          f"(>= 32x32 px, not crowd); per photo: {1000 * seconds[FUSED] / count:.0f} ms for both detectors, "
          f"their fusion and calibration, {1000 * seconds[VERIFIED] / count:.0f} ms more for crop "
          f"verification, {1000 * seconds[TILED] / count:.0f} ms for both detectors on the photo and "
          f"its 4 tiles and the merge ({variant})\n")  # fmt: skip
    header = "| system | mAP@0.5 | " + " | ".join(COMMON_CLASSES) + " |"
    print(header + "\n|" + "---|" * (header.count("|") - 1))
    per_class_of = {}
    for system, system_results in results.items():
        per_class = per_class_of[system] = average_precision(
            [r for rs in system_results for r in rs], positives
        )
        cells = [f"{per_class[c]:.2f} ({positives[c]})" if c in per_class else "-" for c in COMMON_CLASSES]
        print(f"| {system} | {np.mean(list(per_class.values())):.3f} | " + " | ".join(cells) + " |")
    moved = [
        f"{cls} {per_class_of[FUSED][cls]:.2f} -> {per_class_of[TILED][cls]:.2f} ({positives[cls]})"
        for cls in sorted(positives)
        if cls not in COMMON_CLASSES and abs(per_class_of[TILED][cls] - per_class_of[FUSED][cls]) >= 0.05
    ]
    print("Other classes the tiles moved by 0.05 or more: " + ", ".join(moved))
    for system, (hits, present) in large_counts.items():
        print(f"{system}: large objects (>= 96x96 px) found at Confidence >= {RECALL_CONFIDENCE:g}: "
              f"{hits}/{present} = {hits / max(present, 1):.1%}")  # fmt: skip
    for system in (FUSED, VERIFIED, TILED):
        counted = [item for rs in results[system] for item in rs if item[2] is not None]
        scored = [(confidence_of[system](score), bool(right)) for _, score, right in counted]
        recalled = sum(1 for confidence, right in scored if right and confidence >= RECALL_CONFIDENCE)
        rows, error = reliability(scored)
        total = sum(positives.values())
        print(f"\n{system}: recall at Confidence >= {RECALL_CONFIDENCE:g} {recalled}/{total} "
              f"= {recalled / total:.1%}; ECE {error:.1f} points\n")  # fmt: skip
        print("| Confidence | detections | mean Confidence | right % |\n|---|---:|---:|---:|")
        for label, count, mean_confidence, observed in rows:
            print(f"| {label} | {count} | {mean_confidence:.1f} | {observed:.1f} |")
    counted = [item for rs in results[FUSED] for item in rs if item[2] is not None]
    _, raw_error = reliability([(100 * score, bool(right)) for _, score, right in counted])
    print(f"\nUncalibrated raw fused score: ECE {raw_error:.1f} points")
    for system in (VERIFIED, TILED):
        gain, low, high = bootstrap_gain(test_photos, results[FUSED], results[system])
        print(f"{system}: mAP@0.5 gain over the fused pair {gain:+.3f}, "
              f"95 % interval {low:+.3f} to {high:+.3f} "
              f"(paired bootstrap over the photos, {BOOTSTRAP_RESAMPLES} resamples)")  # fmt: skip
    if arguments.photo:
        show_photo(arguments.photo, variant, confidence_of)


if __name__ == "__main__":
    main()
