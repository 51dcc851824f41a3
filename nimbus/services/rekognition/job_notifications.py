"""Video job completion messages, published to the job's NotificationChannel (an SNS topic) as
Rekognition Video does: JobId, Status, API, JobTag, Timestamp and the Video's bucket and name.

The RoleArn is kept, not assumed: Nimbus enforces no IAM policy yet, so the topic must only exist."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row

from nimbus.services.registry import RequestContext
from nimbus.services.rekognition.errors import invalid_parameter
from nimbus.services.sns.publish import Publication, publish_to_topic
from nimbus.services.sns.records import TOPICS
from nimbus.storage import Storage


def check_notification_channel(ctx: RequestContext, channel: dict[str, Any] | None) -> None:
    """The topic must be the caller's and exist (SNSTopicArn and RoleArn are required by the model)."""
    if not channel:
        return
    with ctx.storage.database.engine.connect() as connection:
        topic = connection.execute(
            select(TOPICS.c.account_id).where(TOPICS.c.arn == channel["SNSTopicArn"])
        ).scalar()
    if topic != ctx.caller.account_id:
        raise invalid_parameter(f"The SNS topic {channel['SNSTopicArn']} does not exist.")


def api_name(operation: str) -> str:
    """ "LabelDetection" -> "LABEL_DETECTION", as the message's API field names the job's kind."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).upper()


def notify_job_finished(storage: Storage, job: Row[Any]) -> None:
    """Publishes the finished ``job``'s completion message, if it asked for one."""
    channel = job.request.get("NotificationChannel")
    if not channel:
        return
    s3_object = job.request["Video"]["S3Object"]
    message: dict[str, Any] = {
        "JobId": job.job_id,
        "Status": job.status,
        "API": api_name(job.operation),
        "Message": job.status_message or "",
        "Timestamp": int((job.completed_at or datetime.now(UTC)).timestamp() * 1000),
        "Video": {"S3ObjectName": s3_object["Name"], "S3Bucket": s3_object["Bucket"]},
    }
    if job.request.get("JobTag"):
        message["JobTag"] = job.request["JobTag"]
    publish_to_topic(storage, Publication(topic_arn=channel["SNSTopicArn"], message=json.dumps(message)))
