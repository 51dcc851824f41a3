"""Amazon Kinesis Video Streams (control plane): streams, their retention and data endpoints. The
media itself arrives through PutMedia (``ingest``) and is read back by the kinesis-video-media and
kinesis-video-archived-media services; fragments are kept as MKV files for the retention period."""

from __future__ import annotations

from nimbus.services.registry import Service

kinesisvideo = Service("kinesisvideo", validation_error="InvalidArgumentException")

# the operation modules register themselves on import
from nimbus.services.kinesisvideo import streams  # noqa: E402, F401
