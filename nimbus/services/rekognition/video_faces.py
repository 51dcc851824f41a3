"""StartFaceDetection / GetFaceDetection and StartFaceSearch / GetFaceSearch on the sampled frames.

Face search follows people through the video: a face whose descriptor is as similar to a person
seen before as two pictures of one person are (the face engine's 80) is that person again, else a
new person with the next Index.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nimbus.engines.vision import faces as face_engine
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.collection_records import collection_key, find_collection
from nimbus.services.rekognition.face_details import bounding_box, face_detail, requested_attributes
from nimbus.services.rekognition.search import (
    DEFAULT_MATCH_THRESHOLD,
    collection_descriptor,
    collection_face_matches,
)
from nimbus.services.rekognition.video_jobs import (
    VideoSource,
    find_video_job,
    paged,
    start_video_job,
    video_analysis,
    video_job_output,
)

FACE_DETECTION = "FaceDetection"
FACE_SEARCH = "FaceSearch"
SAME_PERSON_SIMILARITY = 80.0
MAX_MATCHES_PER_FACE = 10


@video_analysis(FACE_DETECTION)
def faces_over_time(source: VideoSource, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    wanted = requested_attributes([request.get("FaceAttributes", "DEFAULT")])
    items = [
        {"Timestamp": frame.timestamp_ms, "Face": face_detail(face, wanted)}
        for frame in source.sampled_frames()
        for face in face_engine.detect_faces(frame.image, attributes=bool(wanted))
    ]
    return {"TIMESTAMPS": items}


@video_analysis(FACE_SEARCH)
def persons_over_time(source: VideoSource, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    job = source.job
    collection = collection_key(source.storage, job.account_id, job.region, request["CollectionId"])
    threshold = request.get("FaceMatchThreshold", DEFAULT_MATCH_THRESHOLD)
    kind = collection_descriptor(source.storage, collection)
    persons: list[np.ndarray] = []  # the latest descriptor of each person seen, by Index
    items = []
    for frame in source.sampled_frames():
        found = face_engine.detect_faces(frame.image)
        for face, descriptor in zip(found, face_engine.embed_faces(frame.image, found, kind), strict=True):
            index = _person_index(persons, np.asarray(descriptor, dtype=np.float32), kind)
            queries = np.asarray(descriptor, dtype=np.float32)[np.newaxis]
            matches = collection_face_matches(
                source.storage, collection, queries, threshold, MAX_MATCHES_PER_FACE, None
            )
            if matches:
                person = {"Index": index, "BoundingBox": bounding_box(face.bounding_box)}
                person["Face"] = face_detail(face, frozenset())
                items.append({"Timestamp": frame.timestamp_ms, "Person": person, "FaceMatches": matches})
    return {"TIMESTAMPS": items}


def _person_index(persons: list[np.ndarray], descriptor: np.ndarray, kind: str) -> int:
    similarities = [face_engine.similarity(descriptor, known, kind) for known in persons]
    if similarities and max(similarities) >= SAME_PERSON_SIMILARITY:
        index = int(np.argmax(similarities))
        persons[index] = descriptor  # follow the person as the face turns and the light changes
        return index
    persons.append(descriptor)
    return len(persons) - 1


@rekognition.operation
def start_face_detection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """DetectFaces (its attributes and limits) on frames sampled at NIMBUS_VIDEO_SAMPLE_FPS (default 1
    per second)."""
    return start_video_job(ctx, FACE_DETECTION, request)


@rekognition.operation
def get_face_detection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """VideoMetadata has no ColorRange (the decoder, OpenCV, does not report it). While the job is
    IN_PROGRESS, StatusMessage tells how far it has got."""
    job = find_video_job(ctx, FACE_DETECTION, request["JobId"])
    output, items = video_job_output(job)
    return paged(output, "Faces", items, request)


@rekognition.operation
def start_face_search(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Faces on frames sampled at NIMBUS_VIDEO_SAMPLE_FPS (default 1 per second) are searched in the
    collection (up to 10 matches each); people are told apart by their face descriptors, not tracked
    by their bodies."""
    find_collection(ctx, request["CollectionId"])
    return start_video_job(ctx, FACE_SEARCH, request)


@rekognition.operation
def get_face_search(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Persons lists only the faces that matched the collection. VideoMetadata has no ColorRange (the
    decoder, OpenCV, does not report it). While the job is IN_PROGRESS, StatusMessage tells how far it
    has got."""
    job = find_video_job(ctx, FACE_SEARCH, request["JobId"])
    output, items = video_job_output(job)
    if request.get("SortBy") == "INDEX":
        items.sort(key=lambda item: (item["Person"]["Index"], item["Timestamp"]))
    return paged(output, "Persons", items, request)
