"""Kinesis Video Streams against a real server: the control plane through boto3, PutMedia as a raw
signed chunked upload (its JSON acknowledgements, and the errors a malformed or cut-off MKV gets),
`nimbus put-media` streaming a file in real time, and the media read back with GetMedia,
ListFragments, GetMediaForFragmentList and GetImages. The test video (MKV, H.264) is written with
PyAV: 3 seconds, a key frame every second, so three fragments."""

from __future__ import annotations

import base64
import http.client
import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import av
import cv2
import numpy as np
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import REPO_ROOT, NimbusServer, error_code
from PIL import Image

WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 10, 3


def make_video(container_format: str) -> bytes:
    buffer = io.BytesIO()
    # Matroska: a cluster (a fragment) from each key frame, as Kinesis Video producers write them
    options = {"cluster_time_limit": "999"} if container_format == "matroska" else {}
    with av.open(buffer, "w", format=container_format, options=options) as container:
        key_frames = f"keyint={FPS}:min-keyint={FPS}:scenecut=0"  # one a second, nowhere else
        stream = container.add_stream("libx264", rate=FPS, options={"x264-params": key_frames})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for index in range(FPS * SECONDS):
            pixels = np.full((HEIGHT, WIDTH, 3), (index * 8) % 256, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def mkv() -> bytes:
    return make_video("matroska")


@pytest.fixture(scope="module")
def video(nimbus: NimbusServer) -> Any:
    return nimbus.client("kinesisvideo")


def new_stream(video: Any, retention_hours: int = 24) -> str:
    name = f"v-{uuid.uuid4().hex[:12]}"
    video.create_stream(StreamName=name, DataRetentionInHours=retention_hours, MediaType="video/h264")
    return name


def put_media(
    nimbus: NimbusServer, stream_name: str, chunks: Iterator[bytes]
) -> tuple[int, list[dict[str, Any]]]:
    """PutMedia as producers send it: SigV4 over the headers (no payload hash), a chunked body."""
    headers = {
        "x-amzn-stream-name": stream_name,
        "x-amzn-fragment-timecode-type": "RELATIVE",
        "x-amzn-producer-start-timestamp": "1700000000.000",
    }
    request = AWSRequest("POST", nimbus.endpoint_url + "/putMedia", data=b"", headers=headers)
    SigV4Auth(Credentials(nimbus.access_key, nimbus.secret_key), "kinesisvideo", nimbus.region).add_auth(
        request
    )
    connection = http.client.HTTPConnection(nimbus.host, nimbus.port, timeout=60)
    try:
        connection.request(
            "POST", "/putMedia", body=chunks, headers=dict(request.headers), encode_chunked=True
        )
        response = connection.getresponse()
        lines = response.read().decode().splitlines()
    finally:
        connection.close()
    if response.status != 200:
        return response.status, [json.loads("\n".join(lines))]
    return response.status, [json.loads(line) for line in lines if line.strip()]


def pieces(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def fragments(nimbus: NimbusServer, stream_name: str) -> list[dict[str, Any]]:
    archived = nimbus.client("kinesis-video-archived-media")
    return list(archived.list_fragments(StreamName=stream_name)["Fragments"])


def test_control_plane(video: Any) -> None:
    name = new_stream(video, retention_hours=1)
    info = video.describe_stream(StreamName=name)["StreamInfo"]
    assert (info["Status"], info["DataRetentionInHours"], info["MediaType"]) == ("ACTIVE", 1, "video/h264")
    assert name in [stream["StreamName"] for stream in video.list_streams()["StreamInfoList"]]
    video.update_data_retention(
        StreamName=name,
        CurrentVersion=info["Version"],
        Operation="INCREASE_DATA_RETENTION",
        DataRetentionChangeInHours=23,
    )
    with pytest.raises(ClientError) as caught:  # the version changed with the update
        video.update_data_retention(
            StreamName=name,
            CurrentVersion=info["Version"],
            Operation="INCREASE_DATA_RETENTION",
            DataRetentionChangeInHours=1,
        )
    assert error_code(caught) == "VersionMismatchException"
    assert video.describe_stream(StreamName=name)["StreamInfo"]["DataRetentionInHours"] == 24
    assert video.get_data_endpoint(StreamName=name, APIName="GET_MEDIA")["DataEndpoint"].startswith("http://")
    with pytest.raises(ClientError) as caught:
        video.create_stream(StreamName=name)
    assert error_code(caught) == "ResourceInUseException"
    video.delete_stream(StreamARN=info["StreamARN"])
    with pytest.raises(ClientError) as caught:
        video.get_data_endpoint(StreamName=name, APIName="PUT_MEDIA")
    assert error_code(caught) == "ResourceNotFoundException"


def test_put_media_acknowledges_each_fragment(nimbus: NimbusServer, video: Any, mkv: bytes) -> None:
    name = new_stream(video)
    status, acks = put_media(nimbus, name, pieces(mkv))
    assert status == 200
    events = [(ack["EventType"], ack.get("FragmentTimecode")) for ack in acks]
    expected = [
        (event, timecode) for timecode in (0, 1000, 2000) for event in ("BUFFERING", "RECEIVED", "PERSISTED")
    ]
    assert events == expected
    numbers = [ack["FragmentNumber"] for ack in acks if ack["EventType"] == "PERSISTED"]
    listed = fragments(nimbus, name)
    assert [fragment["FragmentNumber"] for fragment in listed] == numbers
    assert all(fragment["FragmentLengthInMilliseconds"] == 1000 for fragment in listed)
    # RELATIVE timecodes count from x-amzn-producer-start-timestamp
    assert [int(fragment["ProducerTimestamp"].timestamp() * 1000) for fragment in listed] == [
        1_700_000_000_000,
        1_700_000_001_000,
        1_700_000_002_000,
    ]


def test_put_media_errors(nimbus: NimbusServer, video: Any, mkv: bytes) -> None:
    name = new_stream(video)
    status, acks = put_media(nimbus, name, pieces(b"this is not a matroska stream" * 10))
    assert status == 200 and acks == [{"EventType": "ERROR", "ErrorId": 4006}]
    first_cluster = mkv.index(bytes.fromhex("1f43b675"))
    second_cluster = mkv.index(bytes.fromhex("1f43b675"), first_cluster + 4)
    status, acks = put_media(
        nimbus, name, pieces(mkv[: (first_cluster + second_cluster) // 2])
    )  # cut mid-cluster
    assert [(ack["EventType"], ack.get("ErrorId")) for ack in acks] == [("BUFFERING", None), ("ERROR", 4000)]
    backwards = mkv[:first_cluster] + mkv[second_cluster:] + mkv[first_cluster:second_cluster]
    status, acks = put_media(nimbus, name, pieces(backwards))
    assert [ack["EventType"] for ack in acks][-1] == "ERROR" and acks[-1]["ErrorId"] == 4004
    kept = fragments(nimbus, name)  # only whole fragments that came in order were kept
    assert [fragment["FragmentLengthInMilliseconds"] for fragment in kept] == [1000, 1000]
    status, [error] = put_media(nimbus, "no-such-stream", pieces(mkv))
    assert status == 404 and "not found" in error["message"]


def test_put_media_command_streams_in_real_time_and_media_reads_back(
    nimbus: NimbusServer, video: Any, tmp_path: Any
) -> None:
    name = new_stream(video)
    source = tmp_path / "clip.mp4"
    source.write_bytes(make_video("mp4"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nimbus",
            "put-media",
            str(source),
            "--stream-name",
            name,
            "--fragment-seconds",
            "1",
        ],
        cwd=REPO_ROOT,
        env=nimbus.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    acks = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [ack["EventType"] for ack in acks].count("PERSISTED") == SECONDS
    listed = fragments(nimbus, name)
    # sent in real time: each fragment reached the server about a second after the one before
    served = [fragment["ServerTimestamp"].timestamp() for fragment in listed]
    assert served[-1] - served[0] >= SECONDS - 2

    media = nimbus.client("kinesis-video-media")
    payload = media.get_media(StreamName=name, StartSelector={"StartSelectorType": "EARLIEST"})["Payload"]
    data = b""
    for piece in payload.iter_chunks():
        data += piece
        if data.count(b"AWS_KINESISVIDEO_CONTINUATION_TOKEN") == SECONDS:
            break
    payload.close()
    for fragment in listed:
        assert fragment["FragmentNumber"].encode() in data
    with av.open(io.BytesIO(data), format="matroska") as container:  # what GetMedia sent is MKV
        assert sum(1 for _ in container.decode(video=0)) == FPS * SECONDS

    archived = nimbus.client("kinesis-video-archived-media")
    chunk = archived.get_media_for_fragment_list(StreamName=name, Fragments=[listed[1]["FragmentNumber"]])[
        "Payload"
    ]
    body = chunk.read()
    assert b"AWS_KINESISVIDEO_PRODUCER_SIDE_TIMESTAMP" in body
    with av.open(io.BytesIO(body), format="matroska") as container:
        assert sum(1 for _ in container.decode(video=0)) == FPS
    images = archived.get_images(
        StreamName=name,
        ImageSelectorType="PRODUCER_TIMESTAMP",
        StartTimestamp=listed[0]["ProducerTimestamp"],
        EndTimestamp=listed[-1]["ProducerTimestamp"],
        SamplingInterval=1000,
        Format="JPEG",
        WidthPixels=160,
    )["Images"]
    assert len(images) == SECONDS and all("Error" not in image for image in images)
    picture = Image.open(io.BytesIO(base64.b64decode(images[0]["ImageContent"])))
    assert (picture.format, picture.size) == ("JPEG", (160, 120))


def gray_levels(url: str) -> list[int]:
    """The mean gray level of each frame FFmpeg (OpenCV's build) reads from a file or URL."""
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    levels = []
    while True:
        read, frame = capture.read()
        if not read:
            break
        levels.append(round(float(frame.mean())))
    capture.release()
    return levels


def test_clip_and_streaming_sessions_play_in_real_players(
    nimbus: NimbusServer, video: Any, mkv: bytes, tmp_path: Any
) -> None:
    name = new_stream(video)
    assert put_media(nimbus, name, pieces(mkv))[0] == 200
    archived = nimbus.client("kinesis-video-archived-media")
    span = {
        "StartTimestamp": datetime.fromtimestamp(1_700_000_000, UTC),
        "EndTimestamp": datetime.fromtimestamp(1_700_000_003, UTC),
    }
    selector = {"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": span}
    # the frames were painted gray levels 0, 8, 16...: a player must show them all, in order
    painted = [(index * 8) % 256 for index in range(FPS * SECONDS)]

    clip = archived.get_clip(StreamName=name, ClipFragmentSelector=selector)
    assert clip["ContentType"] == "video/mp4"
    (tmp_path / "clip.mp4").write_bytes(clip["Payload"].read())
    with av.open(str(tmp_path / "clip.mp4")) as container:
        assert "mp4" in container.format.name and container.duration / 1e6 == pytest.approx(SECONDS, abs=0.2)
    assert gray_levels(str(tmp_path / "clip.mp4")) == pytest.approx(painted, abs=3)

    hls = archived.get_hls_streaming_session_url(
        StreamName=name, PlaybackMode="ON_DEMAND", HLSFragmentSelector=selector
    )["HLSStreamingSessionURL"]
    assert gray_levels(hls) == pytest.approx(painted, abs=3)
    live = archived.get_hls_streaming_session_url(StreamName=name)["HLSStreamingSessionURL"]
    media = requests.get(live.replace("getHLSMasterPlaylist", "getHLSMediaPlaylist"), timeout=30).text
    assert media.count("getMP4MediaFragment.mp4") == SECONDS and "#EXT-X-ENDLIST" not in media

    dash = archived.get_dash_streaming_session_url(
        StreamName=name, PlaybackMode="ON_DEMAND", DASHFragmentSelector=selector
    )["DASHStreamingSessionURL"]
    manifest = requests.get(dash, timeout=30)
    assert manifest.headers["Content-Type"] == "application/dash+xml"
    parsed = json.loads(
        subprocess.run(  # video.js's own parser resolves the segments a player would fetch
            ["node", str(REPO_ROOT / "tests" / "e2e" / "js_clients" / "parse_dash_manifest.js"), dash],
            input=manifest.text,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    assert [segment["duration"] for segment in parsed["segments"]] == [1.0] * SECONDS
    played = tmp_path / "dash.mp4"
    played.write_bytes(
        b"".join(
            requests.get(url, timeout=30).content
            for url in [parsed["initialization"], *(segment["uri"] for segment in parsed["segments"])]
        )
    )
    assert gray_levels(str(played)) == pytest.approx(painted, abs=3)

    forged = hls.replace("SessionToken=", "SessionToken=x")
    assert requests.get(forged, timeout=30).status_code == 403
    bad_requests = [
        lambda: archived.get_hls_streaming_session_url(StreamName=name, ContainerFormat="MPEG_TS"),
        lambda: archived.get_hls_streaming_session_url(StreamName=name, HLSFragmentSelector=selector),
        lambda: archived.get_dash_streaming_session_url(StreamName=name, PlaybackMode="ON_DEMAND"),
    ]
    for call in bad_requests:
        with pytest.raises(ClientError) as caught:
            call()
        assert error_code(caught) == "InvalidArgumentException"
    empty = {**span, "EndTimestamp": datetime.fromtimestamp(1_600_000_000, UTC)}
    empty["StartTimestamp"] = datetime.fromtimestamp(1_599_999_000, UTC)
    with pytest.raises(ClientError) as caught:
        archived.get_clip(
            StreamName=name,
            ClipFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": empty},
        )
    assert error_code(caught) == "ResourceNotFoundException"
