"""Collection, face and user rows: the reads every collection operation shares, and the shapes
rows become. Collections are per account and region, as in AWS."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Row

from nimbus.services.registry import RequestContext
from nimbus.services.rekognition.errors import collection_not_found, invalid_pagination_token, user_not_found
from nimbus.services.resource_tags import tag_condition_keys
from nimbus.storage import Storage
from nimbus.storage.vision_schema import CollectionRecord, FaceRecord, UserRecord

COLLECTIONS = CollectionRecord.__table__
FACES = FaceRecord.__table__
USERS = UserRecord.__table__
# A collection keeps the face model it was made with, as in AWS: its faces' descriptors compare only
# with descriptors of the same network. 6.0 is dlib's ResNet (collections made before Nimbus moved
# to SFace), 7.0 SFace.
FACE_DESCRIPTORS = {"6.0": "dlib-resnet", "7.0": "sface"}
FACE_MODEL_VERSION = "7.0"
MAX_FACES_PER_USER = 100
_FACE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NAME_TOKEN = re.compile(r"[a-zA-Z0-9_.\-:]{1,255}")


def face_descriptor(collection: Row[Any]) -> str:
    """The face engine's descriptor network of the collection's faces."""
    return FACE_DESCRIPTORS[collection.face_model_version]


def collection_arn(ctx: RequestContext, collection_id: str) -> str:
    # AWS's CreateCollection answers with this form, without the "arn:" prefix
    return f"aws:rekognition:{ctx.region}:{ctx.caller.account_id}:collection/{collection_id}"


def _owned_by(ctx: RequestContext) -> tuple[Any, Any]:
    return COLLECTIONS.c.account_id == ctx.caller.account_id, COLLECTIONS.c.region == ctx.region


def find_collection(
    ctx: RequestContext, collection_id: str, connection: Connection | None = None
) -> Row[Any]:
    """The collection's row, or ResourceNotFoundException."""
    query = select(COLLECTIONS).where(*_owned_by(ctx), COLLECTIONS.c.collection_id == collection_id)
    if connection is not None:
        record = connection.execute(query).first()
    else:
        with ctx.storage.database.engine.connect() as fresh:
            record = fresh.execute(query).first()
    if record is None:
        raise collection_not_found(collection_id)
    return record


def collection_key(storage: Storage, account_id: str, region: str, collection_id: str) -> int:
    """The collection's surrogate id, for background work that outlives requests (a video job, a
    stream processor); ResourceNotFoundException once the collection has been deleted."""
    with storage.database.engine.connect() as connection:
        found = connection.execute(
            select(COLLECTIONS.c.id).where(
                COLLECTIONS.c.account_id == account_id,
                COLLECTIONS.c.region == region,
                COLLECTIONS.c.collection_id == collection_id,
            )
        ).scalar()
    if found is None:
        raise collection_not_found(collection_id)
    return int(found)


def collection_query(ctx: RequestContext) -> Any:
    return select(COLLECTIONS).where(*_owned_by(ctx))


def require_user(connection: Connection, collection: int, user_id: str) -> None:
    query = select(USERS.c.user_id).where(USERS.c.collection == collection, USERS.c.user_id == user_id)
    if connection.execute(query).first() is None:
        raise user_not_found(user_id)


def faces_by_id(connection: Connection, collection: int, face_ids: list[str]) -> dict[str, Row[Any]]:
    query = select(FACES).where(FACES.c.collection == collection, FACES.c.face_id.in_(face_ids))
    return {row.face_id: row for row in connection.execute(query)}


def user_face_count(connection: Connection, collection: int, user_id: str) -> int:
    query = select(func.count()).where(FACES.c.collection == collection, FACES.c.user_id == user_id)
    return int(connection.scalar(query) or 0)


def user_status(face_count: int) -> str:
    """Associations apply at once, so a user is ACTIVE once it has faces and CREATED before."""
    return "ACTIVE" if face_count else "CREATED"


def face_shape(face: Mapping[str, Any]) -> dict[str, Any]:
    """A face's columns (a row's ``_mapping``, or the dict about to be inserted) as Rekognition's ``Face``."""
    return {
        "FaceId": face["face_id"],
        "BoundingBox": {
            "Width": face["box_width"],
            "Height": face["box_height"],
            "Left": face["box_left"],
            "Top": face["box_top"],
        },
        "ImageId": face["image_id"],
        "ExternalImageId": face["external_image_id"],
        "Confidence": face["confidence"],
        "IndexFacesModelVersion": face["index_faces_model_version"],
        "UserId": face["user_id"],
    }


def face_id_token(token: str | None) -> str | None:
    """A ListFaces NextToken: the last face id listed."""
    if token is not None and not _FACE_ID.fullmatch(token):
        raise invalid_pagination_token()
    return token


def name_token(token: str | None) -> str | None:
    """A ListCollections or ListUsers NextToken: the last collection or user id listed."""
    if token is not None and not _NAME_TOKEN.fullmatch(token):
        raise invalid_pagination_token()
    return token


def collection_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
    """``aws:ResourceTag/*`` of ``arn:aws:rekognition:<region>:<account>:collection/<id>``."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("collection/"):
        return {}
    query = select(COLLECTIONS.c.tags).where(
        COLLECTIONS.c.account_id == parts[4],
        COLLECTIONS.c.region == parts[3],
        COLLECTIONS.c.collection_id == parts[5].removeprefix("collection/"),
    )
    with storage.database.engine.connect() as connection:
        return tag_condition_keys(connection.scalar(query) or {})
