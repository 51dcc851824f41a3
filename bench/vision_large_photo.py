"""DetectFaces and DetectLabels on a 12-megapixel JPEG: the whole call through the API, the engine
in-process, and where the engine's time goes, stage by stage (median of several runs).

The photo is scikit-image's astronaut enlarged to 4000x3000 and saved as a quality-90 JPEG (about
the bytes of a phone photo); the pixel count, not the content, is what costs time.

    .venv/bin/python bench/vision_large_photo.py [--runs 7]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import object_crop_verification as crop_verification
import object_tiles as tiles
from PIL import Image
from s3_bench import start_nimbus
from skimage import data

from nimbus.engines.vision import faces, labels
from nimbus.engines.vision.face_detection import COARSE_SIDE, FINE_MAX_FACE, FINE_SIDE, _detect_at
from nimbus.engines.vision.image import decode_image
from nimbus.engines.vision.nanodet import nanodet_detections
from nimbus.engines.vision.objects import DETECTOR_MIN_SCORE, fused_objects
from nimbus.engines.vision.ssd import ssd_detections

WIDTH, HEIGHT = 4000, 3000


def large_jpeg() -> bytes:
    picture = Image.fromarray(data.astronaut()).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def median_ms(action: Callable[[], object], runs: int) -> float:
    action()  # warm: models loaded, caches filled
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    photo = large_jpeg()
    face_image = decode_image(photo, faces.DECODE_SIDE)
    label_image = decode_image(photo, labels.DECODE_SIDE)
    # crop verification (measured in object_quality.py, not in the engine) at its most: MAX_CROPS
    # boxes of the classes it verifies, whatever their Confidence
    things = fused_objects(label_image.pixels)
    most = [i for i, t in enumerate(things) if t.coco_class in crop_verification.evidence_classes()]
    most = most[: crop_verification.MAX_CROPS]
    print(f"{WIDTH}x{HEIGHT} JPEG, {len(photo):,} bytes; median of {runs} runs\n")
    stages = {
        "DetectFaces: decode (libjpeg at 1/2 size)": lambda: decode_image(photo, faces.DECODE_SIDE),
        f"  detector, coarse pass ({COARSE_SIDE} px)": lambda: _detect_at(
            face_image.pixels, COARSE_SIDE, None
        ),
        f"  detector, fine pass ({FINE_SIDE} px)": lambda: _detect_at(
            face_image.pixels, FINE_SIDE, FINE_MAX_FACE
        ),
        "  engine: detect_faces (detector + mesh + quality)": lambda: faces.detect_faces(face_image),
        "DetectLabels: decode (libjpeg at 1/4 size)": lambda: decode_image(photo, labels.DECODE_SIDE),
        "  NanoDet-g": lambda: nanodet_detections(label_image.pixels, DETECTOR_MIN_SCORE),
        "  SSD MobileNet V2": lambda: ssd_detections(label_image.pixels, DETECTOR_MIN_SCORE),
        "  (not in the engine) test-time tiles: both detectors on 4 tiles": lambda: [
            detect(label_image.pixels[y0:y1, x0:x1], DETECTOR_MIN_SCORE)
            for detect in (nanodet_detections, ssd_detections)
            for x0, y0, x1, y1 in tiles.windows(label_image.width, label_image.height)
        ],
        "  classifier": lambda: labels.classify(label_image),
        f"  (not in the engine) crop verification, {len(most)} crops": lambda: (
            crop_verification.crop_features(label_image.pixels, things, most)
        ),
        "  engine: detect_labels (all of it)": lambda: labels.detect_labels(label_image, None, 55.0),
    }
    print("| stage | ms |\n|---|---:|")
    for name, action in stages.items():
        print(f"| {name} | {median_ms(action, runs):.0f} |")
    with tempfile.TemporaryDirectory(prefix="nimbus-vision-large-") as work:
        server = start_nimbus(Path(work))
        try:
            rekognition = server.client("rekognition")
            calls = {
                "DetectFaces through the API (boto3, loopback)": lambda: rekognition.detect_faces(
                    Image={"Bytes": photo}
                ),
                "DetectLabels through the API (boto3, loopback)": lambda: rekognition.detect_labels(
                    Image={"Bytes": photo}
                ),
            }
            for name, action in calls.items():
                print(f"| {name} | {median_ms(action, runs):.0f} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
