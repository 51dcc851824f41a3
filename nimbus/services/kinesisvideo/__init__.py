"""Amazon Kinesis Video Streams (control plane): streams, their retention and data endpoints. The
media itself arrives through PutMedia (``ingest``) and is read back by the kinesis-video-media and
kinesis-video-archived-media services; fragments are kept as MKV files for the retention period."""

from __future__ import annotations

from nimbus.services.registry import Service
from nimbus.services.resource_tags import tags_by_arn
from nimbus.storage.streams_schema import VideoStreamRecord

kinesisvideo = Service("kinesisvideo", validation_error="InvalidArgumentException")
kinesisvideo.resource_tags(tags_by_arn(VideoStreamRecord.__table__))  # aws:ResourceTag/* for policies

# the operation modules register themselves on import
from nimbus.services.kinesisvideo import streams  # noqa: E402, F401
from nimbus.services.kinesisvideo.records import with_stream_arn  # noqa: E402

kinesisvideo.resource_arns_by_name(with_stream_arn)
