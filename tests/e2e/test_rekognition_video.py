"""Rekognition stored-video analysis through boto3 against a real server, on a 10-second H.264 MP4
the tests write with PyAV: the astronaut (a face) for 3 s, 1 s of black, white text for 3 s, then
the cat for 3 s. At the default 1 sampled frame per second each scene has 3 analysed frames."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import av
import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from PIL import Image, ImageDraw, ImageFont
from skimage import data

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WIDTH, HEIGHT, FPS = 640, 360, 10
JOB_TIMEOUT_S = 120
GETTERS = {
    "labels": "get_label_detection",
    "cats": "get_label_detection",
    "faces": "get_face_detection",
    "search": "get_face_search",
    "text": "get_text_detection",
    "moderation": "get_content_moderation",
    "segments": "get_segment_detection",
}
ASTRONAUT_MS, BLACK_MS, TEXT_MS, CAT_MS = (0, 3000), (3000, 4000), (4000, 7000), (7000, 10000)


def _fitted(pixels: np.ndarray) -> np.ndarray:
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (90, 120, 90))
    picture = Image.fromarray(pixels)
    picture.thumbnail((WIDTH, HEIGHT))
    canvas.paste(picture, ((WIDTH - picture.width) // 2, (HEIGHT - picture.height) // 2))
    return np.asarray(canvas)


def _text_scene() -> np.ndarray:
    canvas = Image.new("RGB", (WIDTH, HEIGHT), "white")
    ImageDraw.Draw(canvas).text((40, 140), "NIMBUS VIDEO", fill="black", font=ImageFont.truetype(FONT, 64))
    return np.asarray(canvas)


def make_video(container_format: str = "mp4") -> bytes:
    """The four scenes, each frame shifted a pixel to the right of the last (motion within a shot)."""
    scenes = [
        (_fitted(data.astronaut()), ASTRONAUT_MS),
        (np.zeros((HEIGHT, WIDTH, 3), np.uint8), BLACK_MS),
        (_text_scene(), TEXT_MS),
        (_fitted(data.chelsea()), CAT_MS),
    ]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for pixels, (start, end) in scenes:
            for shift in range((end - start) * FPS // 1000):
                frame = np.ascontiguousarray(np.roll(pixels, shift, axis=1))
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def seven_hour_video() -> bytes:
    """Two black frames seven hours apart: longer than the 6 hours AWS analyses, in 2 KB."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for seconds in (0, 7 * 3600):
            frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
            frame.pts, frame.time_base = seconds, Fraction(1, 1)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def rekognition(nimbus: NimbusServer) -> Any:
    return nimbus.client("rekognition")


@pytest.fixture(scope="module")
def video(nimbus: NimbusServer) -> dict[str, Any]:
    """The S3Object of the test video (and of a MOV copy and a corrupt one beside it)."""
    s3 = nimbus.client("s3")
    bucket = f"video-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    encoded = make_video()
    s3.put_object(Bucket=bucket, Key="scenes.mp4", Body=encoded)
    s3.put_object(Bucket=bucket, Key="scenes.mov", Body=make_video("mov"))
    s3.put_object(Bucket=bucket, Key="corrupt.mp4", Body=encoded[:48] + b"\0" * 4096)
    s3.put_object(Bucket=bucket, Key="seven-hours.mp4", Body=seven_hour_video())
    return {"Bucket": bucket, "Name": "scenes.mp4"}


@pytest.fixture(scope="module")
def jobs(rekognition: Any, video: dict[str, Any]) -> dict[str, str]:
    """One job of each kind, all started at once (they run one after another on the server)."""
    collection = f"video-faces-{uuid.uuid4().hex[:8]}"
    rekognition.create_collection(CollectionId=collection)
    astronaut = io.BytesIO()
    Image.fromarray(data.astronaut()).save(astronaut, "JPEG")
    rekognition.index_faces(
        CollectionId=collection, Image={"Bytes": astronaut.getvalue()}, ExternalImageId="eileen"
    )
    source = {"S3Object": video}
    return {
        "labels": rekognition.start_label_detection(Video=source, JobTag="scenes")["JobId"],
        "cats": rekognition.start_label_detection(
            Video=source, MinConfidence=60, Settings={"GeneralLabels": {"LabelInclusionFilters": ["Cat"]}}
        )["JobId"],
        "faces": rekognition.start_face_detection(Video=source, FaceAttributes="ALL")["JobId"],
        "search": rekognition.start_face_search(Video=source, CollectionId=collection)["JobId"],
        "text": rekognition.start_text_detection(Video=source)["JobId"],
        "moderation": rekognition.start_content_moderation(Video=source)["JobId"],
        "segments": rekognition.start_segment_detection(
            Video={"S3Object": {**video, "Name": "scenes.mov"}}, SegmentTypes=["SHOT", "TECHNICAL_CUE"]
        )["JobId"],
    }


def finished(get: Callable[..., dict[str, Any]], job_id: str, **kw: Any) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        answer = get(JobId=job_id, **kw)
        if answer["JobStatus"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def seconds_with(items: list[dict[str, Any]], found: Callable[[dict[str, Any]], bool]) -> set[int]:
    return {item["Timestamp"] // 1000 for item in items if found(item)}


def test_label_detection_over_time(rekognition: Any, jobs: dict[str, str]) -> None:
    answer = finished(rekognition.get_label_detection, jobs["labels"])
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    assert answer["JobTag"] == "scenes"
    metadata = answer["VideoMetadata"]
    assert metadata["Codec"] == "h264" and metadata["DurationMillis"] == 10000
    assert (metadata["FrameWidth"], metadata["FrameHeight"], metadata["FrameRate"]) == (WIDTH, HEIGHT, FPS)
    assert seconds_with(answer["Labels"], lambda item: item["Label"]["Name"] == "Cat") == {7, 8, 9}
    segments = rekognition.get_label_detection(JobId=jobs["labels"], AggregateBy="SEGMENTS")
    (cat,) = [item for item in segments["Labels"] if item["Label"]["Name"] == "Cat"]
    assert (cat["StartTimestampMillis"], cat["EndTimestampMillis"]) == CAT_MS
    by_name = rekognition.get_label_detection(JobId=jobs["labels"], SortBy="NAME")["Labels"]
    assert [item["Label"]["Name"] for item in by_name] == sorted(item["Label"]["Name"] for item in by_name)


def test_label_filters_and_min_confidence(rekognition: Any, jobs: dict[str, str]) -> None:
    answer = finished(rekognition.get_label_detection, jobs["cats"])
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    assert {item["Label"]["Name"] for item in answer["Labels"]} == {"Cat"}
    assert min(item["Label"]["Confidence"] for item in answer["Labels"]) >= 60
    assert seconds_with(answer["Labels"], lambda item: True) == {7, 8, 9}


def test_results_page_with_next_token(rekognition: Any, jobs: dict[str, str]) -> None:
    everything = finished(rekognition.get_label_detection, jobs["labels"])["Labels"]
    assert len(everything) > 3
    pages, token = [], None
    while True:
        page = rekognition.get_label_detection(
            JobId=jobs["labels"], MaxResults=3, **({"NextToken": token} if token else {})
        )
        assert len(page["Labels"]) <= 3
        pages += page["Labels"]
        token = page.get("NextToken")
        if token is None:
            break
    assert pages == everything
    with pytest.raises(ClientError) as bad_token:
        rekognition.get_label_detection(JobId=jobs["labels"], NextToken="not-a-token")
    assert error_code(bad_token) == "InvalidPaginationTokenException"


def test_face_detection_finds_the_astronaut(rekognition: Any, jobs: dict[str, str]) -> None:
    answer = finished(rekognition.get_face_detection, jobs["faces"])
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    assert seconds_with(answer["Faces"], lambda item: item["Face"]["Confidence"] > 90) == {0, 1, 2}
    assert all("AgeRange" in item["Face"] for item in answer["Faces"])


def test_face_search_matches_the_collection(rekognition: Any, jobs: dict[str, str]) -> None:
    answer = finished(rekognition.get_face_search, jobs["search"], SortBy="INDEX")
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    assert seconds_with(answer["Persons"], lambda item: True) == {0, 1, 2}
    assert {item["Person"]["Index"] for item in answer["Persons"]} == {0}
    assert {item["FaceMatches"][0]["Face"]["ExternalImageId"] for item in answer["Persons"]} == {"eileen"}


def test_text_detection_reads_the_title(rekognition: Any, jobs: dict[str, str]) -> None:
    answer = finished(rekognition.get_text_detection, jobs["text"])
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    words = [item for item in answer["TextDetections"] if item["TextDetection"]["Type"] == "WORD"]
    assert seconds_with(words, lambda item: item["TextDetection"]["DetectedText"] == "NIMBUS") == {4, 5, 6}


def test_content_moderation_finds_nothing_unsafe(rekognition: Any, jobs: dict[str, str]) -> None:
    answer = finished(rekognition.get_content_moderation, jobs["moderation"])
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    assert answer["ModerationLabels"] == []
    assert answer["ModerationModelVersion"]


def test_segment_detection_finds_cuts_and_black_frames(rekognition: Any, jobs: dict[str, str]) -> None:
    answer = finished(rekognition.get_segment_detection, jobs["segments"])
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    assert answer["VideoMetadata"][0]["DurationMillis"] == 10000
    shots = [item for item in answer["Segments"] if item["Type"] == "SHOT"]
    assert [(shot["StartTimestampMillis"], shot["EndTimestampMillis"]) for shot in shots] == [
        ASTRONAUT_MS,
        TEXT_MS,
        CAT_MS,
    ]
    assert [shot["ShotSegment"]["Index"] for shot in shots] == [0, 1, 2]
    assert shots[1]["StartFrameNumber"] == 40 and shots[1]["StartTimecodeSMPTE"] == "00:00:04:00"
    (black,) = [item for item in answer["Segments"] if item["Type"] == "TECHNICAL_CUE"]
    assert black["TechnicalCueSegment"]["Type"] == "BlackFrames"
    assert (black["StartTimestampMillis"], black["EndTimestampMillis"]) == BLACK_MS
    assert {selected["Type"] for selected in answer["SelectedSegmentTypes"]} == {"SHOT", "TECHNICAL_CUE"}


def test_client_request_token_is_idempotent(rekognition: Any, video: dict[str, Any]) -> None:
    token = uuid.uuid4().hex
    first = rekognition.start_segment_detection(
        Video={"S3Object": video}, SegmentTypes=["SHOT"], ClientRequestToken=token
    )
    again = rekognition.start_segment_detection(
        Video={"S3Object": video}, SegmentTypes=["SHOT"], ClientRequestToken=token
    )
    assert again["JobId"] == first["JobId"]
    with pytest.raises(ClientError) as mismatch:
        rekognition.start_segment_detection(
            Video={"S3Object": video}, SegmentTypes=["TECHNICAL_CUE"], ClientRequestToken=token
        )
    assert error_code(mismatch) == "IdempotentParameterMismatchException"


def test_corrupt_video_fails_the_job(rekognition: Any, video: dict[str, Any]) -> None:
    job_id = rekognition.start_label_detection(Video={"S3Object": {**video, "Name": "corrupt.mp4"}})["JobId"]
    answer = finished(rekognition.get_label_detection, job_id)
    assert answer["JobStatus"] == "FAILED"
    assert "video" in answer["StatusMessage"].lower()
    assert answer["Labels"] == []


def test_bad_requests_are_refused(rekognition: Any, video: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as missing:
        rekognition.start_label_detection(Video={"S3Object": {**video, "Name": "nothing.mp4"}})
    assert error_code(missing) == "InvalidS3ObjectException"
    with pytest.raises(ClientError) as too_long:
        rekognition.start_label_detection(Video={"S3Object": {**video, "Name": "seven-hours.mp4"}})
    assert error_code(too_long) == "VideoTooLargeException"
    with pytest.raises(ClientError) as notification:
        rekognition.start_face_detection(
            Video={"S3Object": video},
            NotificationChannel={
                "SNSTopicArn": "arn:aws:sns:us-east-1:000000000000:done",
                "RoleArn": "arn:aws:iam::000000000000:role/sns",
            },
        )
    assert error_code(notification) == "InvalidParameterException"
    assert "SNS" in notification.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as unknown:
        rekognition.get_face_detection(JobId="f" * 64)
    assert error_code(unknown) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as no_collection:
        rekognition.start_face_search(Video={"S3Object": video}, CollectionId="no-such-collection")
    assert error_code(no_collection) == "ResourceNotFoundException"


def test_restart_fails_unfinished_jobs(
    rekognition: Any, jobs: dict[str, str], video: dict[str, Any], restart_server: Callable[[], NimbusServer]
) -> None:
    for kind, job_id in jobs.items():  # the other tests' jobs end first: they must not be interrupted
        finished(getattr(rekognition, GETTERS[kind]), job_id)
    queued = [rekognition.start_text_detection(Video={"S3Object": video})["JobId"] for _ in range(3)]
    restarted = restart_server().client("rekognition")
    answers = [restarted.get_text_detection(JobId=job_id) for job_id in queued]
    assert answers[-1]["JobStatus"] == "FAILED"
    assert answers[-1]["StatusMessage"] == "The Nimbus node running the job stopped (restarted or died)"
