"""A step's logs in S3 under the cluster's LogUri, in EMR's layout:
``<LogUri>/<cluster-id>/steps/<step-id>/{controller,stdout,stderr}.gz``."""

from __future__ import annotations

import gzip
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

from nimbus.errors import AwsError
from nimbus.services.registry import Caller, RequestContext
from nimbus.services.s3.attributes import content_attributes
from nimbus.services.s3.checksums import UploadDigests
from nimbus.services.s3.records import require_bucket, save_object
from nimbus.storage import Storage

LOG_FILES = ("controller", "stdout", "stderr")


def step_log_uri(log_uri: str, cluster_id: str, step_id: str, name: str) -> str:
    return f"{log_uri.rstrip('/')}/{cluster_id}/steps/{step_id}/{name}.gz"


def upload_step_logs(ctx: RequestContext, log_uri: str, cluster_id: str, step_id: str, folder: Path) -> None:
    """Writes each log file of ``folder`` that exists, gzipped, through S3's own write path. A LogUri
    whose bucket is gone loses the logs, as on EMR, without failing the step."""
    for name in LOG_FILES:
        path = folder / name
        if not path.exists():
            continue
        bucket, _, key = step_log_uri(log_uri, cluster_id, step_id, name).removeprefix("s3://").partition("/")
        body = io.BytesIO(gzip.compress(path.read_bytes()))
        try:
            require_bucket(ctx, bucket)
            attributes = {**content_attributes({"ContentType": "application/gzip"}), "tags": {}}
            save_object(ctx, bucket, key, body, UploadDigests([]), attributes, {})
        except AwsError:
            return


def system_context(storage: Storage, account_id: str, region: str, caller_arn: str) -> RequestContext:
    """The context of writes Nimbus makes for a cluster, as the caller that created it."""
    return RequestContext(
        uuid.uuid4().hex, region, Caller("", account_id, account_id, caller_arn), storage, datetime.now(UTC)
    )
