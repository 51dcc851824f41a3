"""Face search on live video: for each analysed frame, the faces found and the collection's faces
that match them, written to the processor's Kinesis data stream as AWS's JSON frame record
(InputInformation, StreamProcessorInformation, FaceSearchResponse)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from sqlalchemy.engine import Row

from nimbus.engines.media.frames import DecodedFrame
from nimbus.engines.vision import faces as face_engine
from nimbus.errors import AwsError
from nimbus.services.kinesis.data import NewRecord, append_records
from nimbus.services.kinesisvideo.fragments import fragment_number
from nimbus.services.rekognition.collection_records import collection_key
from nimbus.services.rekognition.face_details import compared_face
from nimbus.services.rekognition.search import (
    DEFAULT_MATCH_THRESHOLD,
    collection_descriptor,
    collection_face_matches,
)
from nimbus.services.rekognition.stream_analysis import ProcessorFailure, frame_image, in_regions
from nimbus.storage import Storage

MAX_MATCHES_PER_FACE = 10


class FaceSearchAnalysis:
    def __init__(self, storage: Storage, processor: Row[Any]) -> None:
        self.storage = storage
        self.processor = processor
        settings = processor.request["Settings"]["FaceSearch"]
        self.collection_id = settings["CollectionId"]
        self.threshold = settings.get("FaceMatchThreshold", DEFAULT_MATCH_THRESHOLD)
        self.output_arn = processor.request["Output"]["KinesisDataStream"]["Arn"]
        self.input_arn = processor.request["Input"]["KinesisVideoStream"]["Arn"]

    def fragment(self, fragment: Row[Any], frames: list[DecodedFrame]) -> None:
        try:  # looked up for every fragment: the collection may be deleted while the session runs
            collection = collection_key(
                self.storage, self.processor.account_id, self.processor.region, self.collection_id
            )
        except AwsError as error:
            raise ProcessorFailure(error.message) from None
        records = [
            NewRecord(self.processor.name, json.dumps(self._record(fragment, frame, collection)).encode())
            for frame in frames
        ]
        if records and not append_records(self.storage, self.output_arn, records):
            raise ProcessorFailure(f"The output Kinesis data stream {self.output_arn} no longer exists.")

    def _record(self, fragment: Row[Any], frame: DecodedFrame, collection: int) -> dict[str, Any]:
        image = frame_image(frame)
        found = [
            face
            for face in face_engine.detect_faces(image)
            if in_regions(face.bounding_box, self.processor.request.get("RegionsOfInterest"))
        ]
        responses = []
        descriptors = face_engine.embed_faces(image, found, collection_descriptor(self.storage, collection))
        for face, descriptor in zip(found, descriptors, strict=True):
            queries = np.asarray(descriptor, dtype=np.float32)[np.newaxis]
            matches = collection_face_matches(
                self.storage, collection, queries, self.threshold, MAX_MATCHES_PER_FACE, None
            )
            responses.append({"DetectedFace": compared_face(face), "MatchedFaces": matches})
        return {
            "InputInformation": {
                "KinesisVideo": {
                    "StreamArn": self.input_arn,
                    "FragmentNumber": fragment_number(fragment.id),
                    "ServerTimestamp": fragment.server_ms / 1000,
                    "ProducerTimestamp": fragment.producer_ms / 1000,
                    "FrameOffsetInSeconds": round(frame.offset_ms / 1000, 3),
                }
            },
            "StreamProcessorInformation": {"Status": "RUNNING"},
            "FaceSearchResponse": responses,
        }

    def finish(self, status: str, message: str | None) -> None:
        """Face search writes nothing at the end of a session."""
