"""Amazon Rekognition: images (labels, faces, face collections and users, text, moderation), stored
video analysed in background jobs, and Custom Labels."""

from __future__ import annotations

from nimbus.services.registry import Service

rekognition = Service("rekognition")

# the operation modules register themselves on import
from nimbus.services.rekognition import (  # noqa: E402, F401
    celebrities,
    collection_faces,
    collections,
    compare,
    custom_labels,
    faces,
    labels,
    moderation,
    search,
    stream_processors,
    text,
    users,
    video_faces,
    video_labels,
    video_moderation,
    video_segments,
    video_text,
)
