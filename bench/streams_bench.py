"""Notifications and live video: SQS throughput against moto_server side by side, and the lag of a
Rekognition face-search stream processor on a 720p stream sent in real time.

SQS: the same boto3 load against each server: SendMessage from concurrent clients, SendMessageBatch,
then ReceiveMessage (10 at a time) with DeleteMessageBatch, on loopback. ElasticMQ, the usual peer,
is a JVM jar that no registry this project reaches ships, so it is not run.

Lag: a 1280x720, 30 fps H.264 video of a face (the skimage astronaut) is streamed with
`nimbus.producer` into Kinesis Video Streams in real time (1 s fragments, a key frame each second);
a face-search stream processor writes a record per analysed frame (NIMBUS_STREAM_SAMPLE_FPS) to a
Kinesis data stream. The lag of a frame is the record's arrival in the data stream minus the moment
the producer sent the frame (its producer timestamp: the producer paces frames on the wall clock).
A frame waits for the end of its fragment before any analysis can start, so up to one fragment
(1 s) of the lag is the fragment itself.

Clips: that stream read back as MP4, by GetClip (the whole of it) and as an ON_DEMAND HLS session
whose media segments are fetched one by one (the remux of each fragment, as a player asks for it).

    bench/run.sh streams [--messages 2000] [--threads 4] [--video-seconds 20]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import Server, percentile, start_moto, start_nimbus

from nimbus.producer import put_media

WIDTH, HEIGHT, FPS = 1280, 720, 30
ROLE = "arn:aws:iam::123456789012:role/bench"


def concurrent(threads: int, work: Callable[[int], list[float]]) -> tuple[float, list[float]]:
    """Runs ``work(thread)`` on each thread; returns the wall time and every latency measured."""
    results: list[list[float]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = work(index)

    workers = [threading.Thread(target=run, args=(index,)) for index in range(threads)]
    for worker in workers:
        worker.start()
    barrier.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started, [value for values in results for value in values]


def sqs_throughput(server: Server, messages: int, threads: int) -> dict[str, float]:
    clients = [server.client("sqs", max_pool_connections=threads) for _ in range(threads)]
    url = clients[0].create_queue(QueueName=f"bench-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    body = "x" * 256
    per_thread = messages // threads

    def send(index: int) -> list[float]:
        latencies = []
        for _ in range(per_thread):
            started = time.perf_counter()
            clients[index].send_message(QueueUrl=url, MessageBody=body)
            latencies.append(time.perf_counter() - started)
        return latencies

    send_s, send_latencies = concurrent(threads, send)

    def send_batches(index: int) -> list[float]:
        for _ in range(per_thread // 10):
            entries = [{"Id": str(i), "MessageBody": body} for i in range(10)]
            clients[index].send_message_batch(QueueUrl=url, Entries=entries)
        return []

    batch_s, _ = concurrent(threads, send_batches)
    received = [0] * threads

    def receive(index: int) -> list[float]:
        latencies = []
        while True:
            started = time.perf_counter()
            found = clients[index].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            latencies.append(time.perf_counter() - started)
            if not found:
                return latencies
            clients[index].delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(found)],
            )
            received[index] += len(found)

    receive_s, receive_latencies = concurrent(threads, receive)
    sent = per_thread * threads + (per_thread // 10) * 10 * threads
    return {
        "send msg/s": per_thread * threads / send_s,
        "send p50 ms": percentile(send_latencies, 50) * 1000,
        "send p99 ms": percentile(send_latencies, 99) * 1000,
        "batch send msg/s": (per_thread // 10) * 10 * threads / batch_s,
        "receive+delete msg/s": sum(received) / receive_s,
        "receive p50 ms": percentile(receive_latencies, 50) * 1000,
        "received of sent": sum(received) / sent,
    }


def face_video(path: Path, seconds: int) -> None:
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (90, 120, 90))
    canvas.paste(Image.fromarray(data.astronaut()), ((WIDTH - 512) // 2, (HEIGHT - 512) // 2))
    pixels = np.asarray(canvas)
    with av.open(str(path), "w") as container:
        key_frames = f"keyint={FPS}:min-keyint={FPS}:scenecut=0"
        stream = container.add_stream(
            "libx264", rate=FPS, options={"x264-params": key_frames, "preset": "veryfast"}
        )
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for shift in range(FPS * seconds):
            frame = np.ascontiguousarray(np.roll(pixels, shift * 2, axis=1))
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def stream_lag(server: Server, work: Path, seconds: int) -> dict[str, float]:
    rekognition, kinesis, video = (server.client(name) for name in ("rekognition", "kinesis", "kinesisvideo"))
    image = io.BytesIO()
    Image.fromarray(data.astronaut()).save(image, "JPEG")
    rekognition.create_collection(CollectionId="bench")
    rekognition.index_faces(
        CollectionId="bench", Image={"Bytes": image.getvalue()}, ExternalImageId="astronaut"
    )
    kinesis.create_stream(StreamName="faces", ShardCount=1)
    output = kinesis.describe_stream_summary(StreamName="faces")["StreamDescriptionSummary"]["StreamARN"]
    source = video.create_stream(StreamName="camera", DataRetentionInHours=1)["StreamARN"]
    rekognition.create_stream_processor(
        Name="bench",
        Input={"KinesisVideoStream": {"Arn": source}},
        Output={"KinesisDataStream": {"Arn": output}},
        RoleArn=ROLE,
        Settings={"FaceSearch": {"CollectionId": "bench"}},
    )
    rekognition.start_stream_processor(Name="bench")
    path = work / "face.mp4"
    face_video(path, seconds)
    os.environ.update(
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=server.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
    )
    put_media(str(path), "camera", endpoint_url=server.endpoint_url, fragment_seconds=1)
    iterator = kinesis.get_shard_iterator(
        StreamName="faces", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    expected_fragments = seconds
    while time.monotonic() < deadline:
        page = kinesis.get_records(ShardIterator=iterator)
        iterator = page["NextShardIterator"]
        records += [
            {**json.loads(r["Data"]), "arrival": r["ApproximateArrivalTimestamp"].timestamp()}
            for r in page["Records"]
        ]
        fragments = {r["InputInformation"]["KinesisVideo"]["FragmentNumber"] for r in records}
        if len(fragments) >= expected_fragments:
            break
        time.sleep(0.5)
    lags = [
        r["arrival"]
        - r["InputInformation"]["KinesisVideo"]["ProducerTimestamp"]
        - r["InputInformation"]["KinesisVideo"]["FrameOffsetInSeconds"]
        for r in records
    ]
    matched = sum(1 for r in records if any(face["MatchedFaces"] for face in r["FaceSearchResponse"]))
    return {
        "frames analysed": len(records),
        "frames with the match": matched,
        "lag p50 s": percentile(lags, 50),
        "lag p99 s": percentile(lags, 99),
        "lag max s": max(lags),
    }


def clip_speed(server: Server, stream_name: str) -> dict[str, float]:
    """The whole stream remuxed to MP4 by GetClip, and fetched as an ON_DEMAND HLS session."""
    archived = server.client("kinesis-video-archived-media")
    listed = archived.list_fragments(StreamName=stream_name)["Fragments"]
    span = {
        "StartTimestamp": min(fragment["ProducerTimestamp"] for fragment in listed),
        "EndTimestamp": max(fragment["ProducerTimestamp"] for fragment in listed),
    }
    selector = {"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": span}
    started = time.perf_counter()
    clip = archived.get_clip(StreamName=stream_name, ClipFragmentSelector=selector)["Payload"].read()
    clip_s = time.perf_counter() - started
    url = archived.get_hls_streaming_session_url(
        StreamName=stream_name, PlaybackMode="ON_DEMAND", HLSFragmentSelector=selector
    )["HLSStreamingSessionURL"]
    base = url.split("getHLSMasterPlaylist")[0]
    playlist = urllib.request.urlopen(url.replace("getHLSMasterPlaylist", "getHLSMediaPlaylist")).read()
    segments = [line for line in playlist.decode().splitlines() if line.startswith("getMP4MediaFragment")]
    segment_ms = []
    for segment in segments:
        started = time.perf_counter()
        urllib.request.urlopen(base + segment).read()
        segment_ms.append((time.perf_counter() - started) * 1000)
    return {
        "fragments": len(listed),
        "GetClip MB": len(clip) / 1e6,
        "GetClip s": clip_s,
        "GetClip MB/s": len(clip) / 1e6 / clip_s,
        "HLS segment p50 ms": percentile(segment_ms, 50),
        "HLS segment max ms": max(segment_ms),
    }


def print_metrics(metrics: dict[str, float]) -> None:
    print("| metric | value |\n| --- | --- |")
    for metric, value in metrics.items():
        print(f"| {metric} | {value:.2f} |" if isinstance(value, float) else f"| {metric} | {value} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--video-seconds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        rows = {}
        for start in (start_nimbus, start_moto):
            server = start(work)
            try:
                rows[server.name] = sqs_throughput(server, args.messages, args.threads)
            finally:
                server.stop()
        print(f"### SQS, {args.messages} messages of 256 B, {args.threads} client threads\n")
        print("| | " + " | ".join(rows) + " |")
        print("| --- | " + " | ".join("---" for _ in rows) + " |")
        for metric in next(iter(rows.values())):
            print(
                f"| {metric} | "
                + " | ".join(
                    f"{row[metric]:.1f}" if row[metric] >= 10 else f"{row[metric]:.2f}"
                    for row in rows.values()
                )
                + " |"
            )
        (work / "lag").mkdir()
        server = start_nimbus(work / "lag")
        try:
            lag = stream_lag(server, work, args.video_seconds)
            clips = clip_speed(server, "camera")
        finally:
            server.stop()
        print(
            f"\n### Face search on a {WIDTH}x{HEIGHT} {FPS} fps stream, {args.video_seconds} s in real time\n"
        )
        print_metrics(lag)
        print("\n### That stream as MP4: GetClip, and ON_DEMAND HLS segments fetched one by one\n")
        print_metrics(clips)


if __name__ == "__main__":
    main()
