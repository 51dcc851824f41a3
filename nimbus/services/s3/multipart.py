"""Multipart uploads: parts wait as files under the upload's folder; completing joins them into
the object (ETag: the MD5 of the parts' MD5s, then "-N")."""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.attributes import content_attributes
from nimbus.services.s3.checksums import (
    UploadDigests,
    checksum_members,
    composite,
    requested_algorithms,
)
from nimbus.services.s3.conditions import parse_range
from nimbus.services.s3.keys import check_key_for_write, no_such_bucket, storage_errors
from nimbus.services.s3.objects import open_copy_source
from nimbus.services.s3.owners import owner
from nimbus.services.s3.paging import check_max, list_page, url_encoder
from nimbus.services.s3.records import require_bucket, write_object
from nimbus.services.s3.tagging import tags_from_query
from nimbus.storage.objects import FileRange, MissingFile
from nimbus.storage.schema import PartRecord, UploadRecord
from nimbus.storage.streams import BodyStream

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
PARTS = PartRecord.__table__


def no_such_upload(upload_id: str) -> AwsError:
    return AwsError(
        "NoSuchUpload",
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
        "aborted or completed.",
        404,
        fields={"UploadId": upload_id},
    )


def _find_upload(ctx: RequestContext, request: dict[str, Any]) -> UploadRecord:
    require_bucket(ctx, request["Bucket"])
    with ctx.storage.database.session() as session:
        upload = session.get(UploadRecord, request["UploadId"])
    if upload is None or (upload.bucket, upload.key) != (request["Bucket"], request["Key"]):
        raise no_such_upload(request["UploadId"])
    return upload


def _check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise AwsError(
            "InvalidArgument",
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive",
            fields={"ArgumentName": "partNumber", "ArgumentValue": str(part_number)},
        )


@s3.operation
def create_multipart_upload(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    bucket, key = request["Bucket"], request["Key"]
    require_bucket(ctx, bucket)
    check_key_for_write(key)
    algorithms = requested_algorithms(request)
    checksum_type = request.get("ChecksumType") or ("COMPOSITE" if algorithms else None)
    upload = UploadRecord(
        upload_id=ctx.storage.objects.create_upload(),
        bucket=bucket,
        key=key,
        initiated=datetime.now(UTC),
        initiator_arn=ctx.caller.arn,
        checksum_algorithm=algorithms[0] if algorithms else None,
        checksum_type=checksum_type,
        tags=tags_from_query(request.get("Tagging")),
        **content_attributes(request),
    )
    with ctx.storage.database.session() as session:
        session.add(upload)
        try:
            session.commit()
        except IntegrityError:
            ctx.storage.objects.discard_upload(upload.upload_id)
            raise no_such_bucket(bucket) from None
    output = {"Bucket": bucket, "Key": key, "UploadId": upload.upload_id}
    if upload.checksum_algorithm:
        output.update(ChecksumAlgorithm=upload.checksum_algorithm, ChecksumType=checksum_type)
    return output


def _save_part(
    ctx: RequestContext, upload: UploadRecord, part_number: int, body: BodyStream, request: dict[str, Any]
) -> dict[str, Any]:
    """Streams one part in, verifies its digests, and records it (replacing an earlier upload of it)."""
    digests = UploadDigests(requested_algorithms(request, upload.checksum_algorithm))
    with ctx.storage.objects.staged(body, digests.hashers) as staged:
        row = {
            "upload_id": upload.upload_id,
            "part_number": part_number,
            "size": staged.size,
            "etag": digests.etag,
            "last_modified": datetime.now(UTC),
            "checksums": digests.verified(request, staged),
        }
        with ctx.storage.database.session() as session:
            try:
                session.execute(ctx.storage.database.upsert(PARTS, row, ("upload_id", "part_number")), row)
                ctx.storage.objects.publish_part(staged, upload.upload_id, part_number)
            except (IntegrityError, MissingFile):  # aborted or completed meanwhile
                raise no_such_upload(upload.upload_id) from None
            session.commit()
    return row


@s3.operation
def upload_part(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _check_part_number(request["PartNumber"])
    upload = _find_upload(ctx, request)
    body = request.get("Body") or io.BytesIO(b"")
    row = _save_part(ctx, upload, request["PartNumber"], body, request)
    return {"ETag": row["etag"], **checksum_members(row["checksums"])}


@s3.operation
def upload_part_copy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _check_part_number(request["PartNumber"])
    upload = _find_upload(ctx, request)
    source = open_copy_source(ctx, request)
    window = parse_range(request["CopySourceRange"], source.size) if "CopySourceRange" in request else None
    start, length = (window.start, window.length) if window else (0, source.size)
    with storage_errors(source.key):
        handle = ctx.storage.objects.open_object(source.bucket, source.key)
    row = _save_part(ctx, upload, request["PartNumber"], FileRange(handle, start, length), {})
    result = {"ETag": row["etag"], "LastModified": row["last_modified"], **checksum_members(row["checksums"])}
    return {"CopyPartResult": result}


def _invalid_part(upload_id: str, part: dict[str, Any]) -> AwsError:
    return AwsError(
        "InvalidPart",
        "One or more of the specified parts could not be found. The part may not have been uploaded, or "
        "the specified entity tag may not match the part's entity tag.",
        fields={
            "UploadId": upload_id,
            "PartNumber": str(part.get("PartNumber")),
            "ETag": str(part.get("ETag")),
        },
    )


def _chosen_parts(ctx: RequestContext, upload: UploadRecord, request: dict[str, Any]) -> list[PartRecord]:
    """The parts the request names, checked: ascending, uploaded, ETags matching, all but the last
    at least 5 MiB."""
    listed = (request.get("MultipartUpload") or {}).get("Parts") or []
    if not listed:
        raise AwsError("MalformedXML", "You must specify at least one part")
    numbers = [part.get("PartNumber", 0) for part in listed]
    if any(later <= earlier for earlier, later in itertools.pairwise(numbers)):
        raise AwsError(
            "InvalidPartOrder",
            "The list of parts was not in ascending order. Parts must be ordered by part number.",
            fields={"UploadId": upload.upload_id},
        )
    with ctx.storage.database.session() as session:
        stored = {
            part.part_number: part
            for part in session.scalars(select(PartRecord).where(PartRecord.upload_id == upload.upload_id))
        }
    chosen = []
    for part in listed:
        record = stored.get(part.get("PartNumber", 0))
        if record is None or str(part.get("ETag", "")).strip('"') != record.etag.strip('"'):
            raise _invalid_part(upload.upload_id, part)
        chosen.append(record)
    for record in chosen[:-1]:
        if record.size < MIN_PART_SIZE:
            raise AwsError(
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
                fields={
                    "ProposedSize": str(record.size),
                    "MinSizeAllowed": str(MIN_PART_SIZE),
                    "PartNumber": str(record.part_number),
                    "ETag": record.etag,
                },
            )
    return chosen


def _multipart_etag(parts: list[PartRecord]) -> str:
    digests = b"".join(bytes.fromhex(part.etag.strip('"')) for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


@s3.operation
def complete_multipart_upload(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The same key limits as PutObject apply to the completed object."""
    upload = _find_upload(ctx, request)
    parts = _chosen_parts(ctx, upload, request)
    algorithm = upload.checksum_algorithm
    full_object = algorithm is not None and upload.checksum_type == "FULL_OBJECT"
    digests = UploadDigests([algorithm] if full_object else [], with_md5=False)
    joined = ctx.storage.objects.joined_parts(upload.upload_id, [part.part_number for part in parts])
    with storage_errors(upload.key), ctx.storage.objects.staged(joined, digests.hashers) as staged:
        if full_object:
            checksums = digests.verified({}, staged)
        elif algorithm is not None:
            checksums = {algorithm: composite(algorithm, (part.checksums[algorithm] for part in parts))}
        else:
            checksums = {}
        row = {
            **{column: getattr(upload, column) for column in _CARRIED_COLUMNS},
            "size": staged.size,
            "etag": _multipart_etag(parts),
            "last_modified": datetime.now(UTC),
            "checksums": checksums,
            "part_sizes": [part.size for part in parts],
        }
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(delete(UploadRecord).where(UploadRecord.upload_id == upload.upload_id))
            write_object(ctx, connection, staged, row, request)
    ctx.storage.objects.discard_upload(upload.upload_id)
    output = {"Bucket": upload.bucket, "Key": upload.key, "ETag": row["etag"], **checksum_members(checksums)}
    output["Location"] = f"/{upload.bucket}/{upload.key}"
    if checksums:
        output["ChecksumType"] = upload.checksum_type
    return output


# the upload's columns that become the object's
_CARRIED_COLUMNS = (
    "bucket",
    "key",
    "content_type",
    "content_encoding",
    "content_disposition",
    "content_language",
    "cache_control",
    "expires",
    "user_metadata",
    "tags",
    "storage_class",
)


@s3.operation
def abort_multipart_upload(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    upload = _find_upload(ctx, request)
    with ctx.storage.database.session() as session:
        session.execute(delete(UploadRecord).where(UploadRecord.upload_id == upload.upload_id))
        session.commit()
    ctx.storage.objects.discard_upload(upload.upload_id)
    return {}


@s3.operation
def list_parts(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    upload = _find_upload(ctx, request)
    limit = check_max("max-parts", request.get("MaxParts", 1000))
    marker = request.get("PartNumberMarker", 0)
    query = (
        select(PartRecord)
        .where(PartRecord.upload_id == upload.upload_id, PartRecord.part_number > marker)
        .order_by(PartRecord.part_number)
        .limit(limit + 1)
    )
    with ctx.storage.database.session() as session:
        records = session.scalars(query).all()
    page = records[:limit]
    output: dict[str, Any] = {
        "Bucket": upload.bucket,
        "Key": upload.key,
        "UploadId": upload.upload_id,
        "PartNumberMarker": marker,
        "MaxParts": limit,
        "IsTruncated": len(records) > limit,
        "Initiator": {"ID": upload.initiator_arn, "DisplayName": owner(ctx)["DisplayName"]},
        "Owner": owner(ctx),
        "StorageClass": upload.storage_class,
        "Parts": [
            {
                "PartNumber": part.part_number,
                "LastModified": part.last_modified,
                "ETag": part.etag,
                "Size": part.size,
                **checksum_members(part.checksums),
            }
            for part in page
        ],
    }
    if page:
        output["NextPartNumberMarker"] = page[-1].part_number
    if upload.checksum_algorithm:
        output.update(ChecksumAlgorithm=upload.checksum_algorithm, ChecksumType=upload.checksum_type)
    return output


@s3.operation
def list_multipart_uploads(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    bucket = request["Bucket"]
    require_bucket(ctx, bucket)
    encode = url_encoder(request.get("EncodingType"))
    limit = check_max("max-uploads", request.get("MaxUploads", 1000))
    key_marker = request.get("KeyMarker", "")
    # without an upload-id marker, every upload of the marker key is skipped
    upload_marker = request.get("UploadIdMarker") if key_marker else None

    def rows_from(start: str) -> Iterator[tuple[str, UploadRecord]]:
        query = select(UploadRecord).where(UploadRecord.bucket == bucket, UploadRecord.key >= start)
        with ctx.storage.database.session() as session:
            for upload in session.scalars(query.order_by(UploadRecord.key, UploadRecord.upload_id)):
                past_marker = upload.key > key_marker or (
                    upload.key == key_marker
                    and upload_marker is not None
                    and upload.upload_id > upload_marker
                )
                if past_marker:
                    yield upload.key, upload

    page = list_page(
        rows_from,
        prefix=request.get("Prefix", ""),
        delimiter=request.get("Delimiter", ""),
        after=key_marker,
        limit=limit,
    )
    output: dict[str, Any] = {
        "Bucket": bucket,
        "KeyMarker": encode(key_marker),
        "UploadIdMarker": request.get("UploadIdMarker", ""),
        "MaxUploads": limit,
        "IsTruncated": page.truncated,
        "Prefix": encode(request.get("Prefix", "")),
        "Uploads": [
            {
                "UploadId": upload.upload_id,
                "Key": encode(upload.key),
                "Initiated": upload.initiated,
                "StorageClass": upload.storage_class,
                "Owner": owner(ctx),
                "Initiator": {"ID": upload.initiator_arn, "DisplayName": owner(ctx)["DisplayName"]},
            }
            for upload in page.items
        ],
    }
    if "Delimiter" in request:
        output["Delimiter"] = encode(request["Delimiter"])
    if page.common_prefixes:
        output["CommonPrefixes"] = [{"Prefix": encode(common)} for common in page.common_prefixes]
    if page.truncated and page.last_key is not None:
        output["NextKeyMarker"] = encode(page.last_key)
        if page.last_item is not None and page.last_key == page.last_item.key:
            output["NextUploadIdMarker"] = page.last_item.upload_id
    return output
