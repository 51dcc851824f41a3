"""Bucket versioning: Put/GetBucketVersioning. What a bucket's versioning does to writes and deletes
is in ``versions`` and ``records``."""

from __future__ import annotations

from typing import Any

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.buckets import bucket_setting, set_bucket_setting


@s3.operation
def put_bucket_versioning(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """MFA delete is not modelled: `MFADelete` `Enabled` is refused with `NotImplemented` (501), and
    versions are deleted without an MFA token."""
    configuration = request.get("VersioningConfiguration") or {}
    if "Status" not in configuration:
        raise AwsError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema "
            "(VersioningConfiguration needs a Status).",
        )
    if configuration.get("MFADelete") == "Enabled":
        raise AwsError("NotImplemented", "Nimbus does not support MFA delete.", 501)
    set_bucket_setting(ctx, request["Bucket"], "versioning", configuration["Status"])
    return {}


@s3.operation
def get_bucket_versioning(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    status = bucket_setting(ctx, request["Bucket"], "versioning")
    return {} if status is None else {"Status": status}
