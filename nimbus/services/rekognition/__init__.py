"""Amazon Rekognition (images): labels, faces, face collections and users, text, moderation."""

from __future__ import annotations

from nimbus.services.registry import Service

rekognition = Service("rekognition")

# the operation modules register themselves on import
from nimbus.services.rekognition import (  # noqa: E402, F401
    celebrities,
    collection_faces,
    collections,
    compare,
    faces,
    labels,
    moderation,
    search,
    text,
    users,
)
