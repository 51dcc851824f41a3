"""Multipart uploads: parts wait as files under the upload's folder; completing joins them into
the object (ETag: the MD5 of the parts' MD5s, then "-N")."""

from __future__ import annotations

import hashlib
import io
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.acl import object_acl
from nimbus.services.s3.attributes import content_attributes
from nimbus.services.s3.buckets import bucket_setting
from nimbus.services.s3.checksums import (
    UploadDigests,
    check_claimed_checksum,
    checksum_members,
    multipart_checksum,
    requested_algorithms,
    upload_checksum_type,
)
from nimbus.services.s3.conditions import parse_copy_range
from nimbus.services.s3.keys import check_key_for_write, no_such_bucket, storage_errors
from nimbus.services.s3.lifecycle import abort_member
from nimbus.services.s3.objects import copy_source_version, open_copy_source
from nimbus.services.s3.owners import owner
from nimbus.services.s3.paging import check_max, list_page, url_encoder
from nimbus.services.s3.records import find_object, require_bucket, write_object, written_version
from nimbus.services.s3.sse_c import CustomerKey, Sealed, customer_key, key_for, stored_bytes
from nimbus.services.s3.tagging import tags_from_query
from nimbus.storage.objects import MissingFile
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
    upload = _lookup_upload(ctx, request)
    if upload is None:
        raise no_such_upload(request["UploadId"])
    return upload


def _lookup_upload(ctx: RequestContext, request: dict[str, Any]) -> UploadRecord | None:
    require_bucket(ctx, request["Bucket"])
    with ctx.storage.database.session() as session:
        upload = session.get(UploadRecord, request["UploadId"])
    if upload is None or (upload.bucket, upload.key) != (request["Bucket"], request["Key"]):
        return None
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
    checksum_type = upload_checksum_type(algorithms[0] if algorithms else None, request.get("ChecksumType"))
    customer = customer_key(request)
    upload = UploadRecord(
        upload_id=ctx.storage.objects.create_upload(),
        bucket=bucket,
        key=key,
        initiated=datetime.now(UTC),
        initiator_arn=ctx.caller.arn,
        checksum_algorithm=algorithms[0] if algorithms else None,
        checksum_type=checksum_type,
        tags=tags_from_query(request.get("Tagging")),
        acl=object_acl(ctx, bucket, request),
        sse_customer=customer.record() if customer is not None else None,
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
    output.update(abort_member(bucket_setting(ctx, bucket, "lifecycle_rules"), key, upload.initiated))
    if customer is not None:
        output.update(customer.members())
    if upload.checksum_algorithm:
        output.update(ChecksumAlgorithm=upload.checksum_algorithm, ChecksumType=checksum_type)
    return output


def _save_part(
    ctx: RequestContext,
    upload: UploadRecord,
    part_number: int,
    body: BodyStream,
    request: dict[str, Any],
    customer: CustomerKey | None,
) -> dict[str, Any]:
    """Streams one part in (encrypted with the upload's customer key, if it has one), verifies its
    digests, and records it (replacing an earlier upload of it)."""
    digests = UploadDigests(requested_algorithms(request, upload.checksum_algorithm))
    sealed = Sealed(body, customer, digests)
    with ctx.storage.objects.staged(sealed.stream, sealed.hashers) as staged:
        row = {
            "upload_id": upload.upload_id,
            "part_number": part_number,
            "size": staged.size,
            "etag": sealed.etag,
            "last_modified": datetime.now(UTC),
            "checksums": digests.verified(request, staged),
            "sse_nonce": sealed.nonce,
        }
        with ctx.storage.database.session() as session:
            try:
                session.execute(ctx.storage.database.upsert(PARTS, row, ("upload_id", "part_number")), row)
                ctx.storage.objects.publish_part(staged, upload.upload_id, part_number, sealed.etag)
            except (IntegrityError, MissingFile):  # aborted or completed meanwhile
                raise no_such_upload(upload.upload_id) from None
            session.commit()
    return row


@s3.operation
def upload_part(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _check_part_number(request["PartNumber"])
    upload = _find_upload(ctx, request)
    customer = key_for(upload.sse_customer, customer_key(request))
    body = request.get("Body") or io.BytesIO(b"")
    row = _save_part(ctx, upload, request["PartNumber"], body, request, customer)
    return {"ETag": row["etag"], **checksum_members(row["checksums"]), **_key_members(customer)}


def _key_members(customer: CustomerKey | None) -> dict[str, str]:
    return customer.members() if customer is not None else {}


@s3.operation
def upload_part_copy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _check_part_number(request["PartNumber"])
    upload = _find_upload(ctx, request)
    customer = key_for(upload.sse_customer, customer_key(request))
    source, source_customer = open_copy_source(ctx, request)
    window = parse_copy_range(request.get("CopySourceRange"), source.size)
    body = stored_bytes(ctx, source, source_customer, window.start, window.length)
    row = _save_part(ctx, upload, request["PartNumber"], body, {}, customer)
    result = {"ETag": row["etag"], "LastModified": row["last_modified"], **checksum_members(row["checksums"])}
    return {"CopyPartResult": result, **copy_source_version(source), **_key_members(customer)}


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
    if any(later < earlier for earlier, later in itertools.pairwise(numbers)):
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
    # a part listed twice (uploaded twice meanwhile) counts once, as its last entry says
    for part in {part.get("PartNumber", 0): part for part in listed}.values():
        record = stored.get(part.get("PartNumber", 0))
        if record is None or not _same_part(part, record):
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


def _same_part(listed: dict[str, Any], record: PartRecord) -> bool:
    """The ETag, and each checksum the request lists for the part, are the stored part's."""
    if str(listed.get("ETag", "")).strip('"') != record.etag.strip('"'):
        return False
    stored = checksum_members(record.checksums)
    return all(listed[name] == value for name, value in stored.items() if name in listed)


def _multipart_etag(parts: list[PartRecord]) -> str:
    digests = b"".join(bytes.fromhex(part.etag.strip('"')) for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


@s3.operation
def complete_multipart_upload(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    upload = _lookup_upload(ctx, request)
    if upload is None:
        return _completed_before(ctx, request)
    parts = _chosen_parts(ctx, upload, request)
    checksums = _multipart_checksums(upload, parts)
    check_claimed_checksum(request, checksums)
    _check_object_size(request, parts)
    chosen = [(part.part_number, part.etag) for part in parts]
    with storage_errors(upload.key), ctx.storage.objects.staged_parts(upload.upload_id, chosen) as staged:
        row = {
            **{column: getattr(upload, column) for column in _CARRIED_COLUMNS},
            "size": staged.size,
            "etag": _multipart_etag(parts),
            "last_modified": datetime.now(UTC),
            "checksums": checksums,
            "checksum_type": upload.checksum_type if checksums else None,
            "part_sizes": [part.size for part in parts],
            "part_checksums": [_only(part.checksums, checksums) for part in parts] if checksums else None,
            "upload_id": upload.upload_id,
            "sse_customer": _encryption(upload, parts),
        }
        stored = write_object(ctx, staged, row, request, before=_removing_upload(upload.upload_id))
    ctx.storage.objects.discard_upload(upload.upload_id)
    completion = _completion(upload.bucket, upload.key, row["etag"], checksums, row["checksum_type"])
    return {**completion, **written_version(stored)}


def _encryption(upload: UploadRecord, parts: list[PartRecord]) -> dict[str, Any] | None:
    """An SSE-C upload's object: its key's fingerprint, and each part's nonce (each part is a segment)."""
    if upload.sse_customer is None:
        return None
    return {**upload.sse_customer, "nonces": [part.sse_nonce for part in parts]}


def _removing_upload(upload_id: str) -> Callable[[Connection], None]:
    def remove(connection: Connection) -> None:
        connection.execute(delete(UploadRecord).where(UploadRecord.upload_id == upload_id))

    return remove


def _multipart_checksums(upload: UploadRecord, parts: list[PartRecord]) -> dict[str, str]:
    algorithm, checksum_type = upload.checksum_algorithm, upload.checksum_type
    if algorithm is None or checksum_type is None:
        return {}
    missing = [part.part_number for part in parts if algorithm not in part.checksums]
    if missing:
        raise AwsError(
            "InvalidRequest",
            f"Part {missing[0]} has no {algorithm} checksum, which this upload's checksum is made of.",
        )
    pieces = [(part.checksums[algorithm], part.size) for part in parts]
    return {algorithm: multipart_checksum(algorithm, checksum_type, pieces)}


def _only(values: dict[str, str], wanted: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in values.items() if name in wanted}


def _check_object_size(request: dict[str, Any], parts: list[PartRecord]) -> None:
    size = sum(part.size for part in parts)
    if "MpuObjectSize" in request and request["MpuObjectSize"] != size:
        raise AwsError(
            "InvalidRequest",
            f"The provided 'x-amz-mp-object-size' header value {request['MpuObjectSize']} does not match "
            f"what was computed: {size}",
        )


def _completed_before(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A retried CompleteMultipartUpload (its answer was lost): the object it made, while it is current."""
    try:
        record = find_object(ctx, request["Bucket"], request["Key"])
    except AwsError:
        record = None
    if record is None or record.upload_id != request["UploadId"]:
        raise no_such_upload(request["UploadId"])
    return _completion(record.bucket, record.key, record.etag, record.checksums, record.checksum_type)


def _completion(
    bucket: str, key: str, etag: str, checksums: dict[str, str], checksum_type: str | None
) -> dict[str, Any]:
    output = {"Bucket": bucket, "Key": key, "ETag": etag, "Location": f"/{bucket}/{key}"}
    if checksums:
        output.update(checksum_members(checksums), ChecksumType=checksum_type)
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
    "acl",
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
    if request.get("Delimiter"):
        output["Delimiter"] = encode(request["Delimiter"])
    if page.common_prefixes:
        output["CommonPrefixes"] = [{"Prefix": encode(common)} for common in page.common_prefixes]
    if page.truncated and page.last_key is not None:
        output["NextKeyMarker"] = encode(page.last_key)
        if page.last_item is not None and page.last_key == page.last_item.key:
            output["NextUploadIdMarker"] = page.last_item.upload_id
    return output
