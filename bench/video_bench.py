"""Rekognition Video and Custom Labels through the API, against a real `nimbus serve`.

Part 1, stored video: a --seconds long 1280x720 H.264 MP4 at 30 fps written with PyAV (scenes of
scikit-image's astronaut, the cat, a text sign and black, 5 s each, every frame moving), then one job
at a time: StartLabelDetection, StartFaceDetection, StartSegmentDetection, each timed from Start to
SUCCEEDED seen by polling Get every 0.2 s. Reported as seconds of video analysed per second of wall
time, at the server's default sampling rate (NIMBUS_VIDEO_SAMPLE_FPS, 1 frame per second; the
segment job decodes every frame).

Part 2, Custom Labels: scikit-learn's digits 0-9 (8x8, upscaled to 96x96 PNGs), --train-per-digit
TRAIN and --test-per-digit TEST images each in Ground Truth manifests; CreateProjectVersion to
TRAINING_COMPLETED timed; its F1 on TEST; then StartProjectVersion and DetectCustomLabels on
--test-per-digit further digits each that neither dataset holds (held-out accuracy, p50 latency).

    .venv/bin/python bench/video_bench.py [--seconds 60] [--train-per-digit 40] [--test-per-digit 10]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import Server, start_nimbus

WIDTH, HEIGHT, FPS, SCENE_S = 1280, 720, 30, 5
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
POLL_S = 0.2


def scenes() -> list[np.ndarray]:
    def fitted(pixels: np.ndarray) -> np.ndarray:
        canvas = Image.new("RGB", (WIDTH, HEIGHT), (90, 120, 90))
        picture = Image.fromarray(pixels).resize((HEIGHT, HEIGHT))
        canvas.paste(picture, ((WIDTH - HEIGHT) // 2, 0))
        return np.asarray(canvas)

    sign = Image.new("RGB", (WIDTH, HEIGHT), "white")
    ImageDraw.Draw(sign).text(
        (80, 300), "NIMBUS VIDEO BENCH", fill="black", font=ImageFont.truetype(FONT, 96)
    )
    black = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    return [fitted(data.astronaut()), fitted(data.chelsea()), np.asarray(sign), black]


def make_video(seconds: int) -> bytes:
    pictures = scenes()
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(seconds * FPS):
            scene = pictures[(index // (SCENE_S * FPS)) % len(pictures)]
            frame = np.ascontiguousarray(np.roll(scene, 2 * (index % (SCENE_S * FPS)), axis=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def video_part(server: Server, seconds: int) -> list[str]:
    s3, rekognition = server.client("s3"), server.client("rekognition")
    s3.create_bucket(Bucket="bench-video")
    s3.put_object(Bucket="bench-video", Key="bench.mp4", Body=make_video(seconds))
    source = {"S3Object": {"Bucket": "bench-video", "Name": "bench.mp4"}}
    jobs = {
        "labels (StartLabelDetection)": (
            lambda: rekognition.start_label_detection(Video=source),
            rekognition.get_label_detection,
            "Labels",
        ),
        "faces (StartFaceDetection)": (
            lambda: rekognition.start_face_detection(Video=source),
            rekognition.get_face_detection,
            "Faces",
        ),
        "segments (StartSegmentDetection, every frame)": (
            lambda: rekognition.start_segment_detection(Video=source, SegmentTypes=["SHOT", "TECHNICAL_CUE"]),
            rekognition.get_segment_detection,
            "Segments",
        ),
    }
    rows = ["| job | wall s | video s per wall s | results |", "|---|---:|---:|---:|"]
    for name, (start, get, member) in jobs.items():
        began = time.perf_counter()
        job_id = start()["JobId"]
        while (answer := get(JobId=job_id))["JobStatus"] == "IN_PROGRESS":
            time.sleep(POLL_S)
        wall = time.perf_counter() - began
        if answer["JobStatus"] != "SUCCEEDED":
            raise RuntimeError(f"{name}: {answer.get('StatusMessage')}")
        rows.append(f"| {name} | {wall:.1f} | {seconds / wall:.2f} | {len(answer[member])} |")
    return rows


def digit_png(pixels: np.ndarray) -> bytes:
    ink = (255 - pixels / 16 * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(ink).resize((96, 96), Image.Resampling.BILINEAR).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def manifest_line(key: str, digit: int) -> str:
    metadata = {"class-name": str(digit), "type": "groundtruth/image-classification", "confidence": 1}
    return json.dumps({"source-ref": f"s3://bench-digits/{key}", "digit": 1, "digit-metadata": metadata})


def custom_labels_part(server: Server, train_per_digit: int, test_per_digit: int) -> list[str]:
    s3, rekognition = server.client("s3"), server.client("rekognition")
    s3.create_bucket(Bucket="bench-digits")
    digits = load_digits()
    lines: dict[str, list[str]] = {"TRAIN": [], "TEST": []}
    held_out: list[tuple[bytes, str]] = []
    for digit in range(10):
        indices = np.nonzero(digits.target == digit)[0][: train_per_digit + 2 * test_per_digit]
        for position, index in enumerate(indices):
            png = digit_png(digits.images[index])
            if position >= train_per_digit + test_per_digit:
                held_out.append((png, str(digit)))
                continue
            key = f"{digit}/{index}.png"
            s3.put_object(Bucket="bench-digits", Key=key, Body=png)
            lines["TRAIN" if position < train_per_digit else "TEST"].append(manifest_line(key, digit))
    project = rekognition.create_project(ProjectName="bench-digits")["ProjectArn"]
    for kind, kind_lines in lines.items():
        s3.put_object(Bucket="bench-digits", Key=f"{kind}.manifest", Body="\n".join(kind_lines).encode())
        rekognition.create_dataset(
            ProjectArn=project,
            DatasetType=kind,
            DatasetSource={
                "GroundTruthManifest": {"S3Object": {"Bucket": "bench-digits", "Name": f"{kind}.manifest"}}
            },
        )
    began = time.perf_counter()
    version = rekognition.create_project_version(
        ProjectArn=project, VersionName="v1", OutputConfig={"S3Bucket": "bench-digits", "S3KeyPrefix": "out/"}
    )["ProjectVersionArn"]
    description = wait_version(rekognition, project, {"TRAINING_COMPLETED", "TRAINING_FAILED"})
    training_s = time.perf_counter() - began
    if description["Status"] != "TRAINING_COMPLETED":
        raise RuntimeError(description.get("StatusMessage"))
    rekognition.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    wait_version(rekognition, project, {"RUNNING"})
    latencies, correct = [], 0
    for png, digit in held_out:
        began = time.perf_counter()
        labels = rekognition.detect_custom_labels(
            ProjectVersionArn=version, Image={"Bytes": png}, MinConfidence=0
        )
        latencies.append(time.perf_counter() - began)
        correct += labels["CustomLabels"][0]["Name"] == digit
    rekognition.stop_project_version(ProjectVersionArn=version)
    return [
        "| measure | value |",
        "|---|---:|",
        f"| training images (10 digits) | {len(lines['TRAIN'])} |",
        f"| CreateProjectVersion → TRAINING_COMPLETED, s | {training_s:.1f} |",
        f"| F1 on TEST ({len(lines['TEST'])} images) | {description['EvaluationResult']['F1Score']:.3f} |",
        f"| held-out accuracy, DetectCustomLabels ({len(held_out)} images) | {correct / len(held_out):.3f} |",
        f"| DetectCustomLabels p50 latency, ms | {1000 * statistics.median(latencies):.0f} |",
    ]


def wait_version(rekognition: Any, project: str, statuses: set[str]) -> dict[str, Any]:
    while True:
        (found,) = rekognition.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"]
        if found["Status"] in statuses:
            return found
        time.sleep(POLL_S)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--train-per-digit", type=int, default=40)
    parser.add_argument("--test-per-digit", type=int, default=10)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        server = start_nimbus(Path(work))
        try:
            print(f"### Stored video: {arguments.seconds} s, {WIDTH}x{HEIGHT}, {FPS} fps, H.264\n")
            print("\n".join(video_part(server, arguments.seconds)) + "\n")
            print("### Custom Labels: scikit-learn digits\n")
            print("\n".join(custom_labels_part(server, arguments.train_per_digit, arguments.test_per_digit)))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
