"""Face collections: create, describe, list, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.collection_records import (
    COLLECTIONS,
    FACE_MODEL_VERSION,
    FACES,
    USERS,
    collection_arn,
    collection_query,
    collection_tag_keys,
    find_collection,
    name_token,
)
from nimbus.services.rekognition.errors import collection_exists
from nimbus.services.rekognition.face_index import face_index
from nimbus.storage.face_thumbnails import FaceThumbnails

DEFAULT_PAGE_SIZE = 1000
rekognition.resource_tags(collection_tag_keys)


@rekognition.operation
def create_collection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """FaceModelVersion 7.0 is Nimbus's SFace descriptor; collections made before it keep 6.0
    (dlib's descriptor) for life, as AWS collections keep theirs."""
    collection_id = request["CollectionId"]
    row = {
        "account_id": ctx.caller.account_id,
        "region": ctx.region,
        "collection_id": collection_id,
        "face_model_version": FACE_MODEL_VERSION,
        "created_at": datetime.now(UTC),
        "tags": request.get("Tags") or {},
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(COLLECTIONS), row)
    except IntegrityError:
        raise collection_exists(collection_id) from None
    return {
        "StatusCode": 200,
        "CollectionArn": collection_arn(ctx, collection_id),
        "FaceModelVersion": FACE_MODEL_VERSION,
    }


@rekognition.operation
def describe_collection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        collection = find_collection(ctx, request["CollectionId"], connection)
        face_count = connection.scalar(select(func.count()).where(FACES.c.collection == collection.id))
        user_count = connection.scalar(select(func.count()).where(USERS.c.collection == collection.id))
    return {
        "FaceCount": face_count or 0,
        "UserCount": user_count or 0,
        "FaceModelVersion": collection.face_model_version,
        "CollectionARN": collection_arn(ctx, collection.collection_id),
        "CreationTimestamp": collection.created_at,
    }


@rekognition.operation
def list_collections(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    after = name_token(request.get("NextToken"))
    page_size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    query = collection_query(ctx).order_by(COLLECTIONS.c.collection_id).limit(page_size + 1)
    if after is not None:
        query = query.where(COLLECTIONS.c.collection_id > after)
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query).all()
    page = rows[:page_size]
    output: dict[str, Any] = {
        "CollectionIds": [row.collection_id for row in page],
        "FaceModelVersions": [row.face_model_version for row in page],
    }
    if len(rows) > page_size:
        output["NextToken"] = page[-1].collection_id
    return output


@rekognition.operation
def delete_collection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    index = face_index(ctx.storage.database)
    with index.lock:
        with ctx.storage.database.engine.begin() as connection:
            collection = find_collection(ctx, request["CollectionId"], connection)
            # faces and users go with it (ON DELETE CASCADE)
            connection.execute(delete(COLLECTIONS).where(COLLECTIONS.c.id == collection.id))
        index.dropped(collection.id)
    FaceThumbnails.under(ctx.storage.data_dir).drop(collection_arn(ctx, collection.collection_id))
    return {"StatusCode": 200}
