"""Connected-home label detection on live video (PERSON, PET, PACKAGE): the first time a label is
seen in a session, its frame and the cropped object go to the S3 destination and a LABEL_DETECTED
notification to the SNS topic; at the session's end a STREAM_PROCESSING_COMPLETE notification and a
session report (every first detection and the video processed) in S3, as Rekognition does.

People come from the COCO detector's person boxes, pets from its cat and dog boxes; packages from
the ImageNet classifier (Package, Box, Envelope), which gives no box, so a PACKAGE has no
boundingBox or cropped image."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

from sqlalchemy.engine import Row

from nimbus.engines.media.frames import DecodedFrame, encode_picture
from nimbus.engines.vision.labels import detect_labels
from nimbus.services.kinesisvideo.fragments import fragment_number
from nimbus.services.registry import Caller
from nimbus.services.rekognition.stream_analysis import ProcessorFailure, frame_image, in_regions
from nimbus.services.sagemaker.s3_locations import JobFailure, write_object
from nimbus.services.sns.publish import Publication, publish_to_topic
from nimbus.storage import Storage

SUBJECT = "Rekognition Stream Processing Event"
DEFAULT_MIN_CONFIDENCE = 50.0
CONNECTED_HOME_LABELS = ("PERSON", "PET", "PACKAGE")
BOXED = {"Person": "PERSON", "Cat": "PET", "Dog": "PET"}  # detector labels with boxes
PACKAGES = frozenset({"Package", "Box", "Envelope"})  # classifier labels, without boxes


class LabelAnalysis:
    def __init__(self, storage: Storage, processor: Row[Any]) -> None:
        self.storage = storage
        self.processor = processor
        settings = processor.request["Settings"]["ConnectedHome"]
        wanted = set(settings["Labels"])
        self.labels = set(CONNECTED_HOME_LABELS) if "ALL" in wanted else wanted
        self.min_confidence = settings.get("MinConfidence", DEFAULT_MIN_CONFIDENCE)
        destination = processor.request["Output"]["S3Destination"]
        self.bucket = destination["Bucket"]
        self.prefix = f"{destination.get('KeyPrefix', '')}{processor.name}/{processor.session['SessionId']}/"
        self.topic_arn = processor.request["NotificationChannel"]["SNSTopicArn"]
        self.caller = Caller("", processor.account_id, processor.account_id, processor.request["RoleArn"])
        self.detected: dict[str, dict[str, Any]] = {}  # label -> its first detection
        self.processed_ms = 0

    def fragment(self, fragment: Row[Any], frames: list[DecodedFrame]) -> None:
        self.processed_ms += fragment.duration_ms
        for frame in frames:
            for name, confidence, box in self._detections(frame):
                if name not in self.detected:
                    self.detected[name] = self._first_detection(fragment, frame, name, confidence, box)
                    self._notify(
                        {"eventNamespace": {"type": "LABEL_DETECTED"}, "labels": [self.detected[name]]}
                    )

    def _detections(self, frame: DecodedFrame) -> list[tuple[str, float, Any]]:
        found: list[tuple[str, float, Any]] = []
        regions = self.processor.request.get("RegionsOfInterest")
        for label in detect_labels(frame_image(frame), None, self.min_confidence):
            if BOXED.get(label.name) in self.labels:
                found += [
                    (BOXED[label.name], instance.confidence, instance.box)
                    for instance in label.instances
                    if instance.confidence >= self.min_confidence and in_regions(instance.box, regions)
                ]
            elif label.name in PACKAGES and "PACKAGE" in self.labels:
                found.append(("PACKAGE", label.confidence, None))
        return sorted(found, key=lambda item: item[1], reverse=True)

    def _first_detection(
        self, fragment: Row[Any], frame: DecodedFrame, name: str, confidence: float, box: Any
    ) -> dict[str, Any]:
        stem = f"{self.prefix}{name.lower()}-{fragment_number(fragment.id)}-{round(frame.offset_ms)}"
        label: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "name": name,
            "confidence": confidence,
            "frameImageUri": self._write(f"{stem}-frame.jpg", encode_picture(frame.pixels, "JPEG")),
            "videoMapping": {
                "kinesisVideoMapping": {
                    "fragmentNumber": fragment_number(fragment.id),
                    "serverTimestamp": fragment.server_ms,
                    "producerTimestamp": fragment.producer_ms,
                    "frameOffsetMillis": round(frame.offset_ms),
                }
            },
        }
        if box is not None:
            height, width = frame.pixels.shape[:2]
            top, left = int(box.top * height), int(box.left * width)
            crop = frame.pixels[
                top : top + max(1, int(box.height * height)), left : left + max(1, int(box.width * width))
            ]
            label["croppedImageUri"] = self._write(f"{stem}-cropped.jpg", encode_picture(crop, "JPEG"))
            label["boundingBox"] = {
                "left": box.left,
                "top": box.top,
                "height": box.height,
                "width": box.width,
            }
        return label

    def _write(self, key: str, data: bytes, content_type: str = "image/jpeg") -> str:
        uri = f"s3://{self.bucket}/{key}"
        try:
            write_object(
                self.storage, self.caller, self.processor.region, uri, io.BytesIO(data), content_type, key
            )
        except JobFailure as failure:
            raise ProcessorFailure(str(failure)) from None
        return uri

    def _notify(self, event: dict[str, Any]) -> None:
        session = self.processor.session
        message = {
            "inputInformation": {
                "kinesisVideo": {"streamArn": self.processor.request["Input"]["KinesisVideoStream"]["Arn"]}
            },
            **event,
            "eventId": str(uuid.uuid4()),
            "tags": self.processor.request.get("Tags") or {},
            "sessionId": session["SessionId"],
            "startStreamProcessorRequest": {
                "Name": self.processor.name,
                **{key: session[key] for key in ("StartSelector", "StopSelector") if session.get(key)},
            },
        }
        publish_to_topic(self.storage, Publication(self.topic_arn, json.dumps(message), subject=SUBJECT))

    def finish(self, status: str, message: str | None) -> None:
        summary = message or f"Stream processing {'completed' if status == 'STOPPED' else 'failed'}."
        report = {
            "StreamProcessorArn": self.processor.arn,
            "SessionId": self.processor.session["SessionId"],
            "Status": status,
            "ProcessedVideoDurationMillis": self.processed_ms,
            "Labels": list(self.detected.values()),
        }
        self._write(
            f"{self.prefix}session-summary.json", json.dumps(report, indent=2).encode(), "application/json"
        )
        self._notify(
            {
                "inputInformation": {
                    "kinesisVideo": {
                        "streamArn": self.processor.request["Input"]["KinesisVideoStream"]["Arn"],
                        "processedVideoDurationMillis": self.processed_ms,
                    }
                },
                "eventNamespace": {"type": "STREAM_PROCESSING_COMPLETE"},
                "streamProcessingResults": {"message": summary},
            }
        )
