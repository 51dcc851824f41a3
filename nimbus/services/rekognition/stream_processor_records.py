"""Stream processor rows, their ARNs and the shapes Describe/List answer with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.storage.streams_schema import StreamProcessorRecord

PROCESSORS = StreamProcessorRecord.__table__
FACE_SEARCH, CONNECTED_HOME = "FaceSearch", "ConnectedHome"


def processor_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:rekognition:{region}:{account_id}:streamprocessor/{name}"


def processor_not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The stream processor {name} does not exist.", 400)


def find_processor(connection: Connection, account_id: str, region: str, name: str) -> Row[Any]:
    found = connection.execute(
        select(PROCESSORS).where(
            PROCESSORS.c.account_id == account_id, PROCESSORS.c.region == region, PROCESSORS.c.name == name
        )
    ).first()
    if found is None:
        raise processor_not_found(name)
    return found


def kind(processor: Row[Any]) -> str:
    """FaceSearch or ConnectedHome: the one setting a processor has."""
    return FACE_SEARCH if "FaceSearch" in processor.request["Settings"] else CONNECTED_HOME


def description(processor: Row[Any]) -> dict[str, Any]:
    request = processor.request
    shape = {
        "Name": processor.name,
        "StreamProcessorArn": processor.arn,
        "Status": processor.status,
        "StatusMessage": processor.status_message,
        "CreationTimestamp": processor.created_at,
        "LastUpdateTimestamp": processor.updated_at,
        **{
            member: request[member]
            for member in (
                "Input",
                "Output",
                "RoleArn",
                "Settings",
                "NotificationChannel",
                "KmsKeyId",
                "RegionsOfInterest",
                "DataSharingPreference",
            )
            if member in request
        },
    }
    return {name: value for name, value in shape.items() if value is not None}
