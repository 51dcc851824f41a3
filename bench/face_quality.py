"""Face detection recall by face size and pose, and the calibration of DetectFaces' Confidence, on
COCO val2017's person keypoints (annotated by COCO's workers: nose, eyes and ears of every person
with keypoints).

COCO is not in any package this machine's registries serve: give folders in COCO's layout
(``<dir>/val2017/*.jpg`` and ``<dir>/annotations/person_keypoints_val2017.json``, any subset of
val2017; from https://cocodataset.org). Without one the script says so and stops.

A face counts when its nose and at least one eye are marked visible. Its size is estimated from
the keypoints: 2.2 times the distance between the eyes, or between an eye and the nose side of
the head when only one eye shows (a profile), whichever is larger (COCO has no face boxes, so
sizes are approximate). A detection finds a face when its box holds the nose and every visible
eye and is 0.4-3 times that size. Old and new engines run side by side: ``--old-root`` takes
a checkout of an earlier Nimbus (``git worktree add /tmp/nimbus-old <commit>``), whose
``detect_faces`` runs in a child process on the same photos, so both are measured in one run.

Detections that find no marked face are not counted wrong here: COCO marks keypoints for few
spectators of a crowd, but it boxes every person. So calibration (``--fit``) reads COCO's person
boxes (``annotations/instances_val2017.json``): a detection is right when its centre lies in a
crowd region, or in the upper 60 % of a person's box and it is no wider than that person.
Platt scaling of the detector's logit is fitted on the FIRST folder and the reliability is
reported on the others, so the figures are on photos the fit never saw. It prints the SLOPE and
OFFSET for nimbus/engines/vision/face_confidence.py.

    .venv/bin/python bench/face_quality.py DIR [DIR ...] [--old-root CHECKOUT] [--fit]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

NOSE, LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = 0, 1, 2, 3, 4
VISIBLE = 2
SIZE_BANDS = ((10, 20), (20, 30), (30, 45), (45, 70), (70, 120), (120, 10_000))
RELIABILITY_BINS = (0, 50, 70, 80, 90, 95, 99, 100.01)
PERSON_CATEGORY = 1
HEAD_SHARE = 0.6


@dataclass(frozen=True)
class MarkedFace:
    points: np.ndarray  # visible nose and eyes, pixels
    size: float  # estimated face width, pixels
    profile: bool  # only one eye visible


def marked_faces(person: dict) -> MarkedFace | None:
    keypoints = np.array(person["keypoints"], dtype=float).reshape(17, 3)
    if keypoints[NOSE, 2] != VISIBLE:
        return None
    eyes = [keypoints[index, :2] for index in (LEFT_EYE, RIGHT_EYE) if keypoints[index, 2] == VISIBLE]
    if not eyes:
        return None
    nose = keypoints[NOSE, :2]
    if len(eyes) == 2:
        size = 2.2 * float(np.linalg.norm(eyes[0] - eyes[1]))
    else:
        ears = [keypoints[index, :2] for index in (LEFT_EAR, RIGHT_EAR) if keypoints[index, 2] == VISIBLE]
        spans = [float(np.linalg.norm(eyes[0] - nose)) * 3.0] + [
            float(np.linalg.norm(e - nose)) for e in ears
        ]
        size = max(spans)
    return MarkedFace(np.array([nose, *eyes]), size, len(eyes) == 1)


def person_boxes(folder: Path) -> dict[str, list[tuple[np.ndarray, bool]]]:
    """Photo file name -> every person's box (pixels) and whether it is a crowd region."""
    document = json.loads((folder / "annotations" / "instances_val2017.json").read_text())
    names = {image["id"]: image["file_name"] for image in document["images"]}
    boxes: dict[str, list[tuple[np.ndarray, bool]]] = {name: [] for name in names.values()}
    for note in document["annotations"]:
        if note["category_id"] == PERSON_CATEGORY:
            x, y, w, h = note["bbox"]
            boxes[names[note["image_id"]]].append((np.array([x, y, x + w, y + h]), bool(note.get("iscrowd"))))
    return boxes


def on_a_person(box: np.ndarray, people: list[tuple[np.ndarray, bool]]) -> bool:
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for (x0, y0, x1, y1), crowd in people:
        inside = x0 <= centre_x <= x1 and y0 <= centre_y <= y1
        head_sized = box[2] - box[0] <= 1.2 * (x1 - x0) and centre_y <= y0 + HEAD_SHARE * (y1 - y0)
        if inside and (crowd or head_sized):
            return True
    return False


def fit_and_check(folders: list[Path]) -> None:
    """Platt scaling fitted on the first folder's detections, reliability on the others'."""
    from sklearn.linear_model import LogisticRegression

    from nimbus.engines.vision import face_confidence
    from nimbus.engines.vision.face_detection import find_faces

    def labelled(folder: Path) -> list[tuple[float, bool]]:
        rows = []
        for name, people in person_boxes(folder).items():
            path = folder / "val2017" / name
            if path.is_file():
                pixels = np.asarray(Image.open(path).convert("RGB"))
                rows += [(c.score, on_a_person(c.box, people)) for c in find_faces(pixels)]
        return rows

    fit_rows = labelled(folders[0])
    check_rows = [row for folder in folders[1:] for row in labelled(folder)]
    probabilities = np.clip(np.array([p for p, _ in fit_rows]), 1e-6, 1 - 1e-6)
    logits = np.log(probabilities / (1 - probabilities))[:, np.newaxis]
    model = LogisticRegression().fit(logits, np.array([right for _, right in fit_rows], dtype=int))
    face_confidence.SLOPE, face_confidence.OFFSET = float(model.coef_[0, 0]), float(model.intercept_[0])
    print(f"Fitted on {len(fit_rows)} detections: SLOPE = {face_confidence.SLOPE:.3f}, "
          f"OFFSET = {face_confidence.OFFSET:.3f}")  # fmt: skip
    for title, confidence in (
        ("uncalibrated probability", lambda p: 100 * p),
        ("calibrated Confidence", face_confidence.calibrated_confidence),
    ):
        rows, error = reliability([(confidence(p), right) for p, right in check_rows])
        print(f"\n{title} on {len(check_rows)} other detections (ECE {error:.1f} points)")
        print("| Confidence | detections | mean Confidence | on a person % |\n|---|---:|---:|---:|")
        for label, count, mean, observed in rows:
            print(f"| {label} | {count} | {mean:.1f} | {observed:.1f} |")


def load(folder: Path) -> list[tuple[Path, list[MarkedFace]]]:
    document = json.loads((folder / "annotations" / "person_keypoints_val2017.json").read_text())
    faces: dict[int, list[MarkedFace]] = defaultdict(list)
    for person in document["annotations"]:
        face = marked_faces(person)
        if face is not None:
            faces[person["image_id"]].append(face)
    photos = [(folder / "val2017" / image["file_name"], faces[image["id"]]) for image in document["images"]]
    return [(path, marked) for path, marked in photos if path.is_file()]


def finds(box: np.ndarray, face: MarkedFace) -> bool:
    x0, y0, x1, y1 = box
    inside = all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in face.points)
    return inside and 0.4 * face.size <= max(x1 - x0, y1 - y0) <= 3.0 * face.size


@dataclass(frozen=True)
class Found:
    box: np.ndarray  # pixels
    confidence: float  # 0-100, as DetectFaces reports it


def detect_here(path: Path) -> list[Found]:
    from nimbus.engines.vision.faces import DECODE_SIDE, detect_faces
    from nimbus.engines.vision.image import decode_image

    image = decode_image(path.read_bytes(), DECODE_SIDE)
    boxes = [(face.bounding_box, face.confidence) for face in detect_faces(image)]
    return [_found((box.left, box.top, box.width, box.height), confidence, path) for box, confidence in boxes]


def _found(box: tuple[float, float, float, float], confidence: float, path: Path) -> Found:
    """A DetectFaces-style relative box in the photo's pixels."""
    width, height = Image.open(path).size
    left, top, w, h = box
    return Found(np.array([left * width, top * height, (left + w) * width, (top + h) * height]), confidence)


OLD_ENGINE_SCRIPT = """
import json, sys
from nimbus.engines.vision.faces import detect_faces
from nimbus.engines.vision.image import decode_image
for line in sys.stdin:
    image = decode_image(open(line.strip(), "rb").read())
    faces = detect_faces(image)
    print(json.dumps([[f.bounding_box.left, f.bounding_box.top, f.bounding_box.width, f.bounding_box.height,
                       f.confidence] for f in faces]), flush=True)
"""


def detect_with(root: Path) -> Callable[[Path], list[Found]]:
    """An earlier checkout's DetectFaces engine, in a child process that imports from ``root``."""
    child = subprocess.Popen(
        [sys.executable, "-c", OLD_ENGINE_SCRIPT],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def detect(path: Path) -> list[Found]:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(f"{path}\n")
        child.stdin.flush()
        rows = json.loads(child.stdout.readline())
        return [
            _found((left, top, width, height), confidence, path)
            for left, top, width, height, confidence in rows
        ]

    return detect


def evaluate(photos: list[tuple[Path, list[MarkedFace]]], detect: Callable[[Path], list[Found]]) -> dict:
    found_by_band: dict[tuple[str, tuple[int, int]], list[int]] = defaultdict(lambda: [0, 0])
    scored: list[tuple[float, bool]] = []
    started = time.perf_counter()
    for path, faces in photos:
        used: set[int] = set()
        for candidate in detect(path):
            match = next(
                (i for i, face in enumerate(faces) if i not in used and finds(candidate.box, face)), None
            )
            if match is not None:
                used.add(match)
            scored.append((candidate.confidence, match is not None))
        for index, face in enumerate(faces):
            band = next((b for b in SIZE_BANDS if b[0] <= face.size < b[1]), None)
            if band is not None:
                counts = found_by_band[("profile" if face.profile else "frontal", band)]
                counts[0] += index in used
                counts[1] += 1
    return {
        "bands": found_by_band,
        "scored": scored,
        "seconds": (time.perf_counter() - started) / len(photos),
    }


def reliability(scored: list[tuple[float, bool]]) -> tuple[list[tuple[str, int, float, float]], float]:
    confidences = np.array([confidence for confidence, _ in scored])
    right = np.array([flag for _, flag in scored], dtype=float)
    rows, error = [], 0.0
    for low, high in itertools.pairwise(RELIABILITY_BINS):
        inside = (confidences >= low) & (confidences < high)
        if inside.any():
            rows.append(
                (
                    f"{low}-{min(high, 100):g}",
                    int(inside.sum()),
                    confidences[inside].mean(),
                    100 * right[inside].mean(),
                )
            )
            error += inside.sum() * abs(confidences[inside].mean() - 100 * right[inside].mean())
    return rows, error / max(len(scored), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--old-root", type=Path, help="a checkout of an earlier Nimbus to compare with")
    parser.add_argument("--fit", action="store_true", help="fit the calibration on the first folder")
    arguments = parser.parse_args()
    if not arguments.folders:
        print("No COCO folder given: face detection quality not measured (see the docstring).")
        return
    if arguments.fit:
        fit_and_check(arguments.folders)
    keypoint_folders = [
        f for f in arguments.folders if (f / "annotations" / "person_keypoints_val2017.json").is_file()
    ]
    photos = [photo for folder in keypoint_folders for photo in load(folder)]
    engines = {"Nimbus (RetinaFace, two scales)": detect_here}
    if arguments.old_root:
        engines["earlier Nimbus"] = detect_with(arguments.old_root)
    results = {name: evaluate(photos, detect) for name, detect in engines.items()}
    faces = sum(len(marked) for _, marked in photos)
    print(f"{len(photos)} COCO photos, {faces} faces with a visible nose and eye\n")
    print("| engine | s/photo | " + " | ".join(f"{kind} {low}-{high if high < 10_000 else ''} px"
          for kind in ("frontal", "profile") for low, high in SIZE_BANDS) + " |")  # fmt: skip
    print("|---|---:|" + "---:|" * 2 * len(SIZE_BANDS))
    for name, result in results.items():
        cells = []
        for kind in ("frontal", "profile"):
            for band in SIZE_BANDS:
                found, total = result["bands"].get((kind, band), [0, 0])
                cells.append(f"{found}/{total}" if total else "-")
        print(f"| {name} | {result['seconds']:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
