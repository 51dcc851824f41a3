"""Faces in a collection: index them from an image, list them, delete them."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

from PIL import Image
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from nimbus.engines.vision import faces as face_engine
from nimbus.engines.vision.faces import Face
from nimbus.engines.vision.image import DecodedImage
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.collection_records import (
    FACES,
    collection_arn,
    face_descriptor,
    face_id_token,
    face_shape,
    faces_by_id,
    find_collection,
)
from nimbus.services.rekognition.errors import collection_not_found
from nimbus.services.rekognition.face_details import face_detail, requested_attributes
from nimbus.services.rekognition.face_index import face_index
from nimbus.services.rekognition.face_quality import quality_reasons
from nimbus.services.rekognition.images import load_image
from nimbus.storage.face_thumbnails import FaceThumbnails

MAX_INDEXED_FACES = 100  # IndexFaces indexes at most the 100 largest faces, whatever MaxFaces says
DEFAULT_PAGE_SIZE = 1000
THUMBNAIL_SIDE = 96
THUMBNAIL_MARGIN = 0.2  # of the face box's size, on each side: some hair and chin around the face


def _choose_faces(
    image: DecodedImage, found: list[Face], quality_filter: str, max_faces: int, wanted: frozenset[str]
) -> tuple[list[Face], list[dict[str, Any]]]:
    """The faces to index, largest first, and the UnindexedFaces with their reasons: quality first,
    then the smallest faces beyond MaxFaces."""
    passing, unindexed = [], []
    for face in found:
        reasons = quality_reasons(face, image, quality_filter)
        if reasons:
            unindexed.append({"Reasons": reasons, "FaceDetail": face_detail(face, wanted)})
        else:
            passing.append(face)
    for face in passing[max_faces:]:
        unindexed.append({"Reasons": ["EXCEEDS_MAX_FACES"], "FaceDetail": face_detail(face, wanted)})
    return passing[:max_faces], unindexed


@rekognition.operation
def index_faces(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The AUTO quality bar is Nimbus's MEDIUM bar (see QualityFilter under CompareFaces). Indexing
    the same image again with the same ExternalImageId stores its faces again (AWS keeps one copy)."""
    collection = find_collection(ctx, request["CollectionId"])
    image = load_image(ctx, request["Image"], face_engine.DECODE_SIDE)
    wanted = requested_attributes(request.get("DetectionAttributes"))
    found = face_engine.detect_faces(image, attributes=bool(wanted))[:MAX_INDEXED_FACES]
    max_faces = min(request.get("MaxFaces", MAX_INDEXED_FACES), MAX_INDEXED_FACES)
    indexed, unindexed = _choose_faces(image, found, request.get("QualityFilter", "AUTO"), max_faces, wanted)
    vectors = face_engine.embed_faces(image, indexed, face_descriptor(collection))
    image_id, now = str(uuid.uuid4()), datetime.now(UTC)
    rows = [
        {
            "face_id": str(uuid.uuid4()),
            "collection": collection.id,
            "image_id": image_id,
            "external_image_id": request.get("ExternalImageId"),
            "box_left": face.bounding_box.left,
            "box_top": face.bounding_box.top,
            "box_width": face.bounding_box.width,
            "box_height": face.bounding_box.height,
            "confidence": face.confidence,
            "index_faces_model_version": collection.face_model_version,
            "user_id": None,
            "embedding": vector.astype("float32").tobytes(),
            "created_at": now,
        }
        for face, vector in zip(indexed, vectors, strict=True)
    ]
    index = face_index(ctx.storage.database)
    if rows:
        with index.lock:
            try:
                with ctx.storage.database.engine.begin() as connection:
                    connection.execute(insert(FACES), rows)
            except IntegrityError:  # the collection was deleted while the image was read
                raise collection_not_found(request["CollectionId"]) from None
            index.added(collection.id, [row["face_id"] for row in rows], vectors)
        thumbnails = FaceThumbnails.under(ctx.storage.data_dir)
        arn = collection_arn(ctx, collection.collection_id)
        for row, face in zip(rows, indexed, strict=True):
            thumbnails.put(arn, row["face_id"], _thumbnail(image, face))
    records = [
        {"Face": face_shape(row), "FaceDetail": face_detail(face, wanted)}
        for row, face in zip(rows, indexed, strict=True)
    ]
    return {
        "FaceRecords": records,
        "FaceModelVersion": collection.face_model_version,
        "UnindexedFaces": unindexed,
    }


def _thumbnail(image: DecodedImage, face: Face) -> bytes:
    """The face and a margin around it, at most THUMBNAIL_SIDE pixels a side, as a JPEG."""
    box = face.bounding_box
    left = max(0.0, box.left - box.width * THUMBNAIL_MARGIN) * image.width
    top = max(0.0, box.top - box.height * THUMBNAIL_MARGIN) * image.height
    right = min(1.0, box.left + box.width * (1 + THUMBNAIL_MARGIN)) * image.width
    bottom = min(1.0, box.top + box.height * (1 + THUMBNAIL_MARGIN)) * image.height
    crop = Image.fromarray(image.pixels).crop(
        (int(left), int(top), max(int(right), int(left) + 1), max(int(bottom), int(top) + 1))
    )
    crop.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    encoded = io.BytesIO()
    crop.save(encoded, "JPEG", quality=85)
    return encoded.getvalue()


@rekognition.operation
def list_faces(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    after = face_id_token(request.get("NextToken"))
    page_size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    with ctx.storage.database.engine.connect() as connection:
        collection = find_collection(ctx, request["CollectionId"], connection)
        query = select(FACES).where(FACES.c.collection == collection.id)
        if request.get("UserId"):
            query = query.where(FACES.c.user_id == request["UserId"])
        if request.get("FaceIds"):
            query = query.where(FACES.c.face_id.in_(request["FaceIds"]))
        if after is not None:
            query = query.where(FACES.c.face_id > after)
        rows = connection.execute(query.order_by(FACES.c.face_id).limit(page_size + 1)).all()
    page = rows[:page_size]
    output: dict[str, Any] = {
        "Faces": [face_shape(row._mapping) for row in page],
        "FaceModelVersion": collection.face_model_version,
    }
    if len(rows) > page_size:
        output["NextToken"] = page[-1].face_id
    return output


@rekognition.operation
def delete_faces(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A face still associated with a user is not deleted (reason ASSOCIATED_TO_AN_EXISTING_USER);
    disassociate it first."""
    face_ids = list(dict.fromkeys(request["FaceIds"]))
    index = face_index(ctx.storage.database)
    with index.lock:
        with ctx.storage.database.engine.begin() as connection:
            collection = find_collection(ctx, request["CollectionId"], connection)
            found = faces_by_id(connection, collection.id, face_ids)
            deletable = [
                face_id for face_id in face_ids if face_id in found and found[face_id].user_id is None
            ]
            if deletable:
                connection.execute(delete(FACES).where(FACES.c.face_id.in_(deletable)))
        index.removed(collection.id, deletable)
    FaceThumbnails.under(ctx.storage.data_dir).delete(
        collection_arn(ctx, collection.collection_id), deletable
    )
    failures = []
    for face_id in face_ids:
        if face_id not in found:
            failures.append({"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]})
        elif found[face_id].user_id is not None:
            failures.append(
                {
                    "FaceId": face_id,
                    "UserId": found[face_id].user_id,
                    "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"],
                }
            )
    return {"DeletedFaces": deletable, "UnsuccessfulFaceDeletions": failures}
