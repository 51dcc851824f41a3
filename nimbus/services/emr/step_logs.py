"""Logs in S3 under the cluster's LogUri, in EMR's layout: a step's
``<LogUri>/<cluster-id>/steps/<step-id>/{controller,stdout,stderr}.gz``, a bootstrap action's
``<LogUri>/<cluster-id>/node/<ec2-instance-id>/bootstrap-actions/<n>/{stdout,stderr}.gz``."""

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
    return f"{_step_log_prefix(log_uri, cluster_id, step_id)}/{name}.gz"


def _step_log_prefix(log_uri: str, cluster_id: str, step_id: str) -> str:
    return f"{log_uri.rstrip('/')}/{cluster_id}/steps/{step_id}"


def bootstrap_log_prefix(log_uri: str, cluster_id: str, ec2_instance_id: str, number: int) -> str:
    return f"{log_uri.rstrip('/')}/{cluster_id}/node/{ec2_instance_id}/bootstrap-actions/{number}"


def upload_step_logs(ctx: RequestContext, log_uri: str, cluster_id: str, step_id: str, folder: Path) -> None:
    upload_logs(ctx, _step_log_prefix(log_uri, cluster_id, step_id), folder)


def upload_logs(ctx: RequestContext, prefix: str, folder: Path) -> None:
    """Writes each log file of ``folder`` that exists to ``<prefix>/<name>.gz``, gzipped, through S3's
    own write path. A LogUri whose bucket is gone loses the logs, as on EMR, without failing anything."""
    for name in LOG_FILES:
        path = folder / name
        if not path.exists():
            continue
        bucket, _, key = f"{prefix}/{name}.gz".split("://", 1)[1].partition("/")  # s3:// or s3n://
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
