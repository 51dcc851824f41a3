"""Users: named groups of a collection's faces (one person), created, associated and searched.

A face belongs to at most one user, and a user holds at most 100 faces. A user's similarity to a
face is that of its most similar face.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from nimbus.engines.vision import faces as face_engine
from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.collection_records import (
    FACES,
    MAX_FACES_PER_USER,
    USERS,
    face_descriptor,
    faces_by_id,
    find_collection,
    name_token,
    require_user,
    user_face_count,
    user_status,
)
from nimbus.services.rekognition.compare import faces_passing
from nimbus.services.rekognition.errors import invalid_parameter, no_faces_in_image
from nimbus.services.rekognition.face_details import face_detail
from nimbus.services.rekognition.face_index import IndexedFaces, as_vector, face_index
from nimbus.services.rekognition.images import load_image
from nimbus.services.rekognition.search import best_similarity, stored_face

DEFAULT_ASSOCIATE_THRESHOLD = 75.0
DEFAULT_SEARCH_THRESHOLD = 80.0
DEFAULT_MAX_USERS = 500
DEFAULT_PAGE_SIZE = 500


def _conflict(message: str) -> AwsError:
    return AwsError("ConflictException", message, 400)


@rekognition.operation
def create_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    collection_id, user_id, token = (
        request["CollectionId"],
        request["UserId"],
        request.get("ClientRequestToken"),
    )
    with ctx.storage.database.engine.begin() as connection:
        collection = find_collection(ctx, collection_id, connection)
        existing = connection.execute(
            select(USERS.c.client_request_token).where(
                USERS.c.collection == collection.id, USERS.c.user_id == user_id
            )
        ).first()
        if existing is not None:
            if token is not None and existing.client_request_token == token:
                return {}  # a retry of the call that created it
            raise _conflict(f"A user with the id {user_id} already exists in the collection.")
        try:
            connection.execute(
                insert(USERS),
                {
                    "collection": collection.id,
                    "user_id": user_id,
                    "client_request_token": token,
                    "created_at": datetime.now(UTC),
                },
            )
        except IntegrityError:  # created by a concurrent call
            raise _conflict(f"A user with the id {user_id} already exists in the collection.") from None
    return {}


@rekognition.operation
def delete_user(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    user_id = request["UserId"]
    index = face_index(ctx.storage.database)
    with index.lock:
        with ctx.storage.database.engine.begin() as connection:
            collection = find_collection(ctx, request["CollectionId"], connection)
            require_user(connection, collection.id, user_id)
            owned = (FACES.c.collection == collection.id) & (FACES.c.user_id == user_id)
            face_ids = list(connection.scalars(select(FACES.c.face_id).where(owned)))
            connection.execute(update(FACES).where(owned).values(user_id=None))
            connection.execute(
                delete(USERS).where(USERS.c.collection == collection.id, USERS.c.user_id == user_id)
            )
        index.associated(collection.id, face_ids, None)
    return {}


@rekognition.operation
def list_users(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    after = name_token(request.get("NextToken"))
    page_size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    with ctx.storage.database.engine.connect() as connection:
        collection = find_collection(ctx, request["CollectionId"], connection)
        query = select(USERS.c.user_id).where(USERS.c.collection == collection.id)
        if after is not None:
            query = query.where(USERS.c.user_id > after)
        user_ids = list(connection.scalars(query.order_by(USERS.c.user_id).limit(page_size + 1)))
        page = user_ids[:page_size]
        counts = dict(
            connection.execute(
                select(FACES.c.user_id, func.count())
                .where(FACES.c.collection == collection.id, FACES.c.user_id.in_(page))
                .group_by(FACES.c.user_id)
            ).all()
        )
    output: dict[str, Any] = {
        "Users": [{"UserId": user_id, "UserStatus": user_status(counts.get(user_id, 0))} for user_id in page]
    }
    if len(user_ids) > page_size:
        output["NextToken"] = page[-1]
    return output


def _user_vectors(connection: Connection, collection: int, user_id: str) -> np.ndarray:
    query = select(FACES.c.embedding).where(FACES.c.collection == collection, FACES.c.user_id == user_id)
    return np.array([as_vector(embedding) for embedding in connection.scalars(query)], dtype=np.float32)


def _association_failure(
    face_id: str,
    row: Row[Any] | None,
    user_id: str,
    user_vectors: np.ndarray,
    threshold: float,
    descriptor: str,
) -> dict[str, Any] | None:
    """Why ``face_id`` cannot join the user (an UnsuccessfulFaceAssociation), or None if it can."""
    if row is None:
        return {"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]}
    if row.user_id is not None and row.user_id != user_id:
        return {"FaceId": face_id, "UserId": row.user_id, "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"]}
    if len(user_vectors):
        similarity = best_similarity(user_vectors, as_vector(row.embedding), descriptor)
        if similarity < threshold:
            return {
                "FaceId": face_id,
                "UserId": user_id,
                "Confidence": similarity,
                "Reasons": ["LOW_MATCH_CONFIDENCE"],
            }
    return None


@rekognition.operation
def associate_faces(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Associations apply at once: UserStatus is ACTIVE on return, never UPDATING."""
    user_id, face_ids = request["UserId"], list(dict.fromkeys(request["FaceIds"]))
    threshold = request.get("UserMatchThreshold", DEFAULT_ASSOCIATE_THRESHOLD)
    index = face_index(ctx.storage.database)
    with index.lock:
        with ctx.storage.database.engine.begin() as connection:
            collection = find_collection(ctx, request["CollectionId"], connection)
            require_user(connection, collection.id, user_id)
            found = faces_by_id(connection, collection.id, face_ids)
            user_vectors = _user_vectors(connection, collection.id, user_id)
            failures, joining = [], []
            for face_id in face_ids:
                row = found.get(face_id)
                failure = _association_failure(
                    face_id, row, user_id, user_vectors, threshold, face_descriptor(collection)
                )
                if failure is not None:
                    failures.append(failure)
                elif row is not None and row.user_id is None:  # one already with this user is ignored
                    joining.append(face_id)
            if len(user_vectors) + len(joining) > MAX_FACES_PER_USER:
                raise AwsError(
                    "ServiceQuotaExceededException",
                    f"A user can have at most {MAX_FACES_PER_USER} associated faces.",
                    400,
                )
            if joining:
                connection.execute(update(FACES).where(FACES.c.face_id.in_(joining)).values(user_id=user_id))
        index.associated(collection.id, joining, user_id)
    return {
        "AssociatedFaces": [{"FaceId": face_id} for face_id in joining],
        "UnsuccessfulFaceAssociations": failures,
        "UserStatus": user_status(len(user_vectors) + len(joining)),
    }


@rekognition.operation
def disassociate_faces(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    user_id, face_ids = request["UserId"], list(dict.fromkeys(request["FaceIds"]))
    index = face_index(ctx.storage.database)
    with index.lock:
        with ctx.storage.database.engine.begin() as connection:
            collection = find_collection(ctx, request["CollectionId"], connection)
            require_user(connection, collection.id, user_id)
            found = faces_by_id(connection, collection.id, face_ids)
            failures, leaving = [], []
            for face_id in face_ids:
                row = found.get(face_id)
                if row is None:
                    failures.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
                elif row.user_id is not None and row.user_id != user_id:
                    failures.append(
                        {
                            "FaceId": face_id,
                            "UserId": row.user_id,
                            "Reasons": ["ASSOCIATED_TO_A_DIFFERENT_USER"],
                        }
                    )
                elif row.user_id == user_id:  # one not associated at all is ignored
                    leaving.append(face_id)
            if leaving:
                connection.execute(update(FACES).where(FACES.c.face_id.in_(leaving)).values(user_id=None))
            remaining = user_face_count(connection, collection.id, user_id)
        index.associated(collection.id, leaving, None)
    return {
        "DisassociatedFaces": [{"FaceId": face_id} for face_id in leaving],
        "UnsuccessfulFaceDisassociations": failures,
        "UserStatus": user_status(remaining),
    }


def similar_users(
    indexed: IndexedFaces,
    queries: np.ndarray,
    threshold: float,
    count: int,
    exclude_user: str | None = None,
    exclude_face: str | None = None,
) -> list[dict[str, Any]]:
    """UserMatches: users whose most similar face reaches ``threshold``, most similar first."""
    candidates = np.not_equal(indexed.user_ids, None)
    if exclude_user is not None:
        candidates &= indexed.user_ids != exclude_user
    if exclude_face is not None:
        candidates &= indexed.face_ids != exclude_face
    if not candidates.any():
        return []
    matches: dict[str, float] = {}
    for row in indexed.nearest(indexed.distances(queries), int(candidates.sum()), candidates):
        user_id = str(indexed.user_ids[row])
        if user_id in matches:
            continue
        similarity = best_similarity(queries, indexed.vectors[row], indexed.descriptor)
        if similarity < threshold or len(matches) == count:
            break
        matches[user_id] = similarity
    return [
        {"Similarity": similarity, "User": {"UserId": user_id, "UserStatus": "ACTIVE"}}
        for user_id, similarity in matches.items()
    ]


@rekognition.operation
def search_users(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Searching by UserId leaves that user out of the matches, as searching by FaceId leaves out
    that face."""
    face_id, user_id = request.get("FaceId"), request.get("UserId")
    if (face_id is None) == (user_id is None):
        raise invalid_parameter("Request has invalid parameters: give exactly one of FaceId and UserId.")
    collection = find_collection(ctx, request["CollectionId"])
    threshold = request.get("UserMatchThreshold", DEFAULT_SEARCH_THRESHOLD)
    count = request.get("MaxUsers", DEFAULT_MAX_USERS)
    indexed = face_index(ctx.storage.database).faces(collection.id)
    output: dict[str, Any] = {"FaceModelVersion": collection.face_model_version}
    if face_id is not None:
        queries = as_vector(stored_face(ctx, collection, face_id).embedding)[np.newaxis]
        output["SearchedFace"] = {"FaceId": face_id}
        output["UserMatches"] = similar_users(indexed, queries, threshold, count, exclude_face=face_id)
        return output
    with ctx.storage.database.engine.connect() as connection:
        require_user(connection, collection.id, user_id)
        queries = _user_vectors(connection, collection.id, user_id)
    output["SearchedUser"] = {"UserId": user_id}
    output["UserMatches"] = (
        similar_users(indexed, queries, threshold, count, exclude_user=user_id) if len(queries) else []
    )
    return output


@rekognition.operation
def search_users_by_image(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Faces other than the largest are in UnsearchedFaces with reason FACE_NOT_LARGEST; faces that
    fail the QualityFilter are left out (Nimbus's quality bars, see CompareFaces)."""
    collection = find_collection(ctx, request["CollectionId"])
    image = load_image(ctx, request["Image"], face_engine.DECODE_SIDE)
    found = faces_passing(image, request.get("QualityFilter", "NONE"))
    if not found:
        raise no_faces_in_image()
    largest, others = found[0], found[1:]
    queries = np.asarray(
        face_engine.embed_faces(image, [largest], face_descriptor(collection)), dtype=np.float32
    )
    indexed = face_index(ctx.storage.database).faces(collection.id)
    threshold = request.get("UserMatchThreshold", DEFAULT_SEARCH_THRESHOLD)
    return {
        "UserMatches": similar_users(indexed, queries, threshold, request.get("MaxUsers", DEFAULT_MAX_USERS)),
        "FaceModelVersion": collection.face_model_version,
        "SearchedFace": {"FaceDetail": face_detail(largest, frozenset())},
        "UnsearchedFaces": [
            {"FaceDetails": face_detail(face, frozenset()), "Reasons": ["FACE_NOT_LARGEST"]}
            for face in others
        ],
    }
