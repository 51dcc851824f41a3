"""Stream processors: CreateStreamProcessor and the operations that start, stop, describe, list,
update and delete them. What a running one does is in ``stream_sessions``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from nimbus.errors import AwsError
from nimbus.services.kinesis.records import stream_by_arn as data_stream_by_arn
from nimbus.services.kinesisvideo.records import STREAMS as VIDEO_STREAMS
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.collection_records import find_collection
from nimbus.services.rekognition.errors import invalid_parameter
from nimbus.services.rekognition.job_notifications import check_notification_channel
from nimbus.services.rekognition.pagination import page_start
from nimbus.services.rekognition.stream_processor_records import (
    CONNECTED_HOME,
    PROCESSORS,
    description,
    find_processor,
    kind,
    processor_arn,
)
from nimbus.services.rekognition.stream_sessions import start_position, stream_processor_runner
from nimbus.services.s3.records import require_bucket

MAX_PROCESSORS = 20  # AWS's default quota per account and region
DEFAULT_MAX_RESULTS = 1000
ACTIVE = ("STARTING", "RUNNING", "STOPPING", "UPDATING")


def _in_use(name: str, status: str) -> AwsError:
    return AwsError("ResourceInUseException", f"The stream processor {name} is {status}.", 400)


def _check_settings(ctx: RequestContext, connection: Connection, request: dict[str, Any]) -> None:
    settings, output = request["Settings"], request["Output"]
    if ("FaceSearch" in settings) == ("ConnectedHome" in settings):
        raise invalid_parameter("Settings must have either FaceSearch or ConnectedHome.")
    if "FaceSearch" in settings:
        if not settings["FaceSearch"].get("CollectionId"):
            raise invalid_parameter("FaceSearch needs a CollectionId.")
        try:
            find_collection(ctx, settings["FaceSearch"]["CollectionId"], connection)
        except AwsError as error:
            raise invalid_parameter(error.message) from None
        arn = (output.get("KinesisDataStream") or {}).get("Arn")
        stream = data_stream_by_arn(connection, arn) if arn else None
        if stream is None or stream.account_id != ctx.caller.account_id:
            raise invalid_parameter(
                "A face search stream processor's Output is an existing KinesisDataStream."
            )
        return
    bucket = (output.get("S3Destination") or {}).get("Bucket")
    if not bucket:
        raise invalid_parameter("A label detection stream processor's Output is an S3Destination.")
    try:
        require_bucket(ctx, bucket)
    except AwsError as error:
        raise invalid_parameter(error.message) from None
    if not request.get("NotificationChannel"):
        raise invalid_parameter("A label detection stream processor needs a NotificationChannel.")
    check_notification_channel(ctx, request["NotificationChannel"])


@rekognition.operation
def create_stream_processor(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """FaceSearch writes one record per analysed frame (NIMBUS_STREAM_SAMPLE_FPS, default 2 per
    second) to the Kinesis data stream; ConnectedHome finds PERSON (and PET: cats and dogs) with the
    COCO detector and PACKAGE with the ImageNet classifier (Package, Box, Envelope: no box for it).
    RoleArn and KmsKeyId are kept, not used; RegionsOfInterest keep detections whose centre is in
    one of them."""
    name = request["Name"]
    arn = processor_arn(ctx.region, ctx.caller.account_id, name)
    now = datetime.now(UTC)
    with ctx.storage.database.engine.begin() as connection:
        video = connection.execute(
            select(VIDEO_STREAMS.c.account_id).where(
                VIDEO_STREAMS.c.arn == request["Input"]["KinesisVideoStream"]["Arn"]
            )
        ).scalar()
        if video != ctx.caller.account_id:
            raise invalid_parameter("The Input KinesisVideoStream does not exist.")
        _check_settings(ctx, connection, request)
        if connection.execute(select(PROCESSORS.c.arn).where(PROCESSORS.c.arn == arn)).first() is not None:
            raise AwsError("ResourceInUseException", f"The stream processor {name} already exists.", 400)
        count = connection.execute(
            select(func.count()).where(
                PROCESSORS.c.account_id == ctx.caller.account_id, PROCESSORS.c.region == ctx.region
            )
        ).scalar_one()
        if count >= MAX_PROCESSORS:
            raise AwsError(
                "LimitExceededException", f"An account has at most {MAX_PROCESSORS} stream processors.", 400
            )
        connection.execute(
            insert(PROCESSORS).values(
                arn=arn,
                account_id=ctx.caller.account_id,
                region=ctx.region,
                name=name,
                status="STOPPED",
                status_message=None,
                request={key: value for key, value in request.items() if key != "Name"},
                session=None,
                created_at=now,
                updated_at=now,
            )
        )
    return {"StreamProcessorArn": arn}


@rekognition.operation
def describe_stream_processor(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        return description(find_processor(connection, ctx.caller.account_id, ctx.region, request["Name"]))


@rekognition.operation
def list_stream_processors(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(
            select(PROCESSORS.c.name, PROCESSORS.c.status)
            .where(PROCESSORS.c.account_id == ctx.caller.account_id, PROCESSORS.c.region == ctx.region)
            .order_by(PROCESSORS.c.name)
        ).all()
    start = page_start(request.get("NextToken"), len(rows))
    end = start + request.get("MaxResults", DEFAULT_MAX_RESULTS)
    output: dict[str, Any] = {
        "StreamProcessors": [{"Name": row.name, "Status": row.status} for row in rows[start:end]]
    }
    if end < len(rows):
        output["NextToken"] = str(end)
    return output


@rekognition.operation
def start_stream_processor(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A label detection session stops after StopSelector.MaxDurationInSeconds of video (default 10)."""
    session_id = str(uuid.uuid4())
    with ctx.storage.database.engine.begin() as connection:
        processor = find_processor(connection, ctx.caller.account_id, ctx.region, request["Name"])
        if processor.status not in ("STOPPED", "FAILED"):
            raise _in_use(processor.name, processor.status)
        if kind(processor) != CONNECTED_HOME and (
            request.get("StartSelector") or request.get("StopSelector")
        ):
            raise invalid_parameter(
                "StartSelector and StopSelector are for label detection stream processors."
            )
        session = {
            "SessionId": session_id,
            "StartSelector": request.get("StartSelector"),
            "StopSelector": request.get("StopSelector"),
            "After": start_position(connection, processor, request.get("StartSelector")),
            "ProcessedMillis": 0,
        }
        connection.execute(
            update(PROCESSORS)
            .where(PROCESSORS.c.arn == processor.arn)
            .values(status="STARTING", status_message=None, session=session, updated_at=datetime.now(UTC))
        )
    stream_processor_runner(ctx.storage).start(processor.arn)
    return {"SessionId": session_id}


@rekognition.operation
def stop_stream_processor(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        processor = find_processor(connection, ctx.caller.account_id, ctx.region, request["Name"])
        if processor.status not in ("STARTING", "RUNNING"):
            raise _in_use(processor.name, processor.status)
        connection.execute(
            update(PROCESSORS)
            .where(PROCESSORS.c.arn == processor.arn)
            .values(status="STOPPING", updated_at=datetime.now(UTC))
        )
    stream_processor_runner(ctx.storage).stop(processor.arn)
    return {}


@rekognition.operation
def delete_stream_processor(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        processor = find_processor(connection, ctx.caller.account_id, ctx.region, request["Name"])
        if processor.status in ACTIVE:
            raise _in_use(processor.name, processor.status)
        connection.execute(delete(PROCESSORS).where(PROCESSORS.c.arn == processor.arn))
    return {}


@rekognition.operation
def update_stream_processor(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        processor = find_processor(connection, ctx.caller.account_id, ctx.region, request["Name"])
        if processor.status in ACTIVE:
            raise _in_use(processor.name, processor.status)
        changed = dict(processor.request)
        home_update = (request.get("SettingsForUpdate") or {}).get("ConnectedHomeForUpdate")
        if home_update:
            if kind(processor) != CONNECTED_HOME:
                raise invalid_parameter("ConnectedHomeForUpdate is for label detection stream processors.")
            changed["Settings"] = {"ConnectedHome": {**changed["Settings"]["ConnectedHome"], **home_update}}
        if "RegionsOfInterestForUpdate" in request:
            changed["RegionsOfInterest"] = request["RegionsOfInterestForUpdate"]
        if "DataSharingPreferenceForUpdate" in request:
            changed["DataSharingPreference"] = request["DataSharingPreferenceForUpdate"]
        for parameter in request.get("ParametersToDelete") or []:
            if parameter == "RegionsOfInterest":
                changed.pop("RegionsOfInterest", None)
            elif parameter == "ConnectedHomeMinConfidence" and kind(processor) == CONNECTED_HOME:
                changed["Settings"] = {
                    "ConnectedHome": {
                        key: value
                        for key, value in changed["Settings"]["ConnectedHome"].items()
                        if key != "MinConfidence"
                    }
                }
        connection.execute(
            update(PROCESSORS)
            .where(PROCESSORS.c.arn == processor.arn)
            .values(request=changed, updated_at=datetime.now(UTC))
        )
    return {}
