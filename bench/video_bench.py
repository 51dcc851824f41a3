"""Rekognition Video through the API, against a real `nimbus serve`.

Stored video: a --seconds long 1280x720 H.264 MP4 at 30 fps written with PyAV (scenes of
scikit-image's astronaut, the cat, a text sign and black, 5 s each, every frame moving), then one job
at a time: StartLabelDetection, StartFaceDetection, StartSegmentDetection, each timed from Start to
SUCCEEDED seen by polling Get every 0.2 s. Reported as seconds of video analysed per second of wall
time, at the server's default sampling rate (NIMBUS_VIDEO_SAMPLE_FPS, 1 frame per second; the
segment job decodes every frame).

    .venv/bin/python bench/video_bench.py [--seconds 60]

Custom Labels has its own benchmark: bench/custom_labels_quality.py.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        server = start_nimbus(Path(work))
        try:
            print(f"### Stored video: {arguments.seconds} s, {WIDTH}x{HEIGHT}, {FPS} fps, H.264\n")
            print("\n".join(video_part(server, arguments.seconds)))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
