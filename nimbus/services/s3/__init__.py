"""Amazon S3: buckets and objects kept as plain files, metadata in the database."""

from __future__ import annotations

from nimbus.services.registry import Service

s3 = Service("s3", validation_error="InvalidArgument")

# the operation modules register themselves on import
from nimbus.services.s3 import buckets, listing, multipart, objects, tagging  # noqa: E402, F401
