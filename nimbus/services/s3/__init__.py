"""Amazon S3: buckets and objects kept as plain files, metadata in the database."""

from __future__ import annotations

from nimbus.services.registry import Service

s3 = Service("s3", validation_error="InvalidArgument")

# the operation modules register themselves on import
from nimbus.services.s3 import (  # noqa: E402, F401
    abac,
    acl,
    bucket_access,
    bucket_policy,
    buckets,
    cors,
    leak_sweeper,
    lifecycle,
    lifecycle_sweep,
    listing,
    multipart,
    objects,
    public_access_block,
    tagging,
    versioning,
)
