"""Searching a collection: by a stored face, or by the largest face of an image.

Candidates come from the collection's in-memory descriptors (nearest first by Euclidean distance);
their similarity is the face engine's, which falls as the distance grows, so the walk stops at the
first candidate under the threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy.engine import Row

from nimbus.engines.vision import faces as face_engine
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.collection_records import (
    face_descriptor,
    face_shape,
    faces_by_id,
    find_collection,
)
from nimbus.services.rekognition.compare import faces_passing
from nimbus.services.rekognition.errors import face_not_found, no_faces_in_image
from nimbus.services.rekognition.face_details import bounding_box
from nimbus.services.rekognition.face_index import IndexedFaces, as_vector, face_index
from nimbus.services.rekognition.images import load_image
from nimbus.storage import Storage

DEFAULT_MATCH_THRESHOLD = 80.0
DEFAULT_MAX_FACES = 4096


def best_similarity(queries: np.ndarray, vector: np.ndarray, descriptor: str) -> float:
    return max(face_engine.similarity(query, vector, descriptor) for query in queries)


def similar_faces(
    indexed: IndexedFaces, queries: np.ndarray, threshold: float, count: int, candidates: np.ndarray | None
) -> list[tuple[str, float]]:
    """(face id, similarity) of up to ``count`` faces at or above ``threshold``, most similar first."""
    if not len(indexed.face_ids):
        return []
    found = []
    for row in indexed.nearest(indexed.distances(queries), count, candidates):
        similarity = best_similarity(queries, indexed.vectors[row], indexed.descriptor)
        if similarity < threshold:
            break
        found.append((str(indexed.face_ids[row]), similarity))
    return found


def stored_face(ctx: RequestContext, collection: Row[Any], face_id: str) -> Row[Any]:
    with ctx.storage.database.engine.connect() as connection:
        found = faces_by_id(connection, collection.id, [face_id])
    if face_id not in found:
        raise face_not_found(face_id)
    return found[face_id]


def _face_matches(
    ctx: RequestContext,
    collection: Row[Any],
    queries: np.ndarray,
    request: dict[str, Any],
    exclude: str | None,
) -> list[dict[str, Any]]:
    threshold = request.get("FaceMatchThreshold", DEFAULT_MATCH_THRESHOLD)
    count = request.get("MaxFaces", DEFAULT_MAX_FACES)
    return collection_face_matches(ctx.storage, collection.id, queries, threshold, count, exclude)


def collection_descriptor(storage: Storage, collection: int) -> str:
    """The descriptor network of a collection's faces, for work that holds only its surrogate id."""
    return face_index(storage.database).faces(collection).descriptor


def collection_face_matches(
    storage: Storage, collection: int, queries: np.ndarray, threshold: float, count: int, exclude: str | None
) -> list[dict[str, Any]]:
    """FaceMatches (most similar first) of the collection's faces for ``queries`` (descriptors)."""
    indexed = face_index(storage.database).faces(collection)
    candidates = None if exclude is None else indexed.face_ids != exclude
    similar = similar_faces(indexed, queries, threshold, count, candidates)
    with storage.database.engine.connect() as connection:
        rows = faces_by_id(connection, collection, [face_id for face_id, _ in similar])
    # a face deleted since the snapshot was taken is left out
    return [
        {"Similarity": similarity, "Face": face_shape(rows[face_id]._mapping)}
        for face_id, similarity in similar
        if face_id in rows
    ]


@rekognition.operation
def search_faces(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    collection = find_collection(ctx, request["CollectionId"])
    searched = stored_face(ctx, collection, request["FaceId"])
    queries = as_vector(searched.embedding)[np.newaxis]
    return {
        "SearchedFaceId": searched.face_id,
        "FaceMatches": _face_matches(ctx, collection, queries, request, exclude=searched.face_id),
        "FaceModelVersion": collection.face_model_version,
    }


@rekognition.operation
def search_faces_by_image(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """QualityFilter uses Nimbus's quality bars (see CompareFaces)."""
    collection = find_collection(ctx, request["CollectionId"])
    image = load_image(ctx, request["Image"], face_engine.DECODE_SIDE)
    found = faces_passing(image, request.get("QualityFilter", "NONE"))
    if not found:
        raise no_faces_in_image()
    largest = found[0]
    queries = np.asarray(
        face_engine.embed_faces(image, [largest], face_descriptor(collection)), dtype=np.float32
    )
    return {
        "SearchedFaceBoundingBox": bounding_box(largest.bounding_box),
        "SearchedFaceConfidence": largest.confidence,
        "FaceMatches": _face_matches(ctx, collection, queries, request, exclude=None),
        "FaceModelVersion": collection.face_model_version,
    }
