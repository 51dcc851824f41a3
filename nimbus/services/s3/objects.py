"""Single objects: put, get, head, delete (one or many), copy, and their attributes."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext, WithStatus
from nimbus.services.s3 import s3
from nimbus.services.s3.acl import object_acl
from nimbus.services.s3.attributes import (
    STORAGE_CLASSES,
    content_attributes,
    copied_attributes,
    object_members,
    object_parts,
    part_checksum_members,
)
from nimbus.services.s3.checksums import UploadDigests, checksum_members, requested_algorithms
from nimbus.services.s3.conditions import ByteRange, check_read_conditions, parse_range
from nimbus.services.s3.keys import check_key_for_write
from nimbus.services.s3.lifecycle import expiration_member
from nimbus.services.s3.records import (
    find_object,
    read_version,
    remove_object,
    require_bucket,
    save_object,
    written_version,
)
from nimbus.services.s3.sse_c import CustomerKey, customer_key, key_for, stored_bytes
from nimbus.services.s3.tagging import tags_from_query
from nimbus.storage.schema import ObjectRow

MAX_DELETE_KEYS = 1000
# members that make copying an object onto itself a real change
_SELF_COPY_CHANGES = ("StorageClass", "WebsiteRedirectLocation", "ServerSideEncryption", "SSEKMSKeyId")


def _written(row: Mapping[str, Any], customer: CustomerKey | None) -> dict[str, Any]:
    """What every write answers about the version it made: its id, its expiry, the SSE-C key's MD5."""
    output = {
        **written_version(row),
        **expiration_member(
            row["lifecycle_rules"], row["key"], row["tags"], row["size"], row["last_modified"]
        ),
    }
    if customer is not None:
        output.update(customer.members())
    return output


@s3.operation
def put_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Every key S3 accepts is stored: those a file system can hold at their path are plain files,
    the others (`.`, `..` or empty segments, a segment over 255 bytes, `a` beside `a/b`, a key ending
    in `/` with a body) are kept aside and served the same (see README, "Where data lives"). SSE-C
    is applied (over plain HTTP too); a canned ACL where the bucket allows ACLs; SSE-S3/KMS and object
    lock are not modelled: their members are accepted and not applied."""
    bucket, key = request["Bucket"], request["Key"]
    require_bucket(ctx, bucket)
    check_key_for_write(key)
    customer = customer_key(request)
    attributes = {
        **content_attributes(request),
        "tags": tags_from_query(request.get("Tagging")),
        "acl": object_acl(ctx, bucket, request),
    }
    digests = UploadDigests(requested_algorithms(request))
    body = request.get("Body") or io.BytesIO(b"")
    row = save_object(ctx, bucket, key, body, digests, attributes, request, customer)
    output = {"ETag": row["etag"], **checksum_members(row["checksums"]), **_written(row, customer)}
    if row["checksums"]:
        output["ChecksumType"] = "FULL_OBJECT"
    return output


def _part_window(record: ObjectRow, part_number: int) -> ByteRange | None:
    sizes = record.part_sizes or [record.size]
    if not 1 <= part_number <= len(sizes):
        raise AwsError(
            "InvalidPartNumber",
            "The requested partnumber is not satisfiable",
            416,
            fields={"PartNumberRequested": str(part_number), "ActualPartCount": str(len(sizes))},
        )
    if record.part_sizes is None:
        return None  # a single-part object's part 1 is the whole object
    return ByteRange(sum(sizes[: part_number - 1]), sizes[part_number - 1], record.size)


def _window(request: dict[str, Any], record: ObjectRow) -> ByteRange | None:
    """The bytes asked for: a Range, a PartNumber, or None for the whole object."""
    if "PartNumber" in request:
        if "Range" in request:
            raise AwsError(
                "InvalidRequest", "Cannot specify both Range header and partNumber query parameter"
            )
        return _part_window(record, request["PartNumber"])
    return parse_range(request["Range"], record.size) if "Range" in request else None


def _readable_version(ctx: RequestContext, request: dict[str, Any]) -> tuple[ObjectRow, CustomerKey | None]:
    """The version a read names, and the customer key that reads it (checked)."""
    record = find_object(ctx, request["Bucket"], request["Key"], request.get("VersionId"))
    return record, key_for(record.sse_customer, customer_key(request))


def _read_view(
    ctx: RequestContext, request: dict[str, Any]
) -> tuple[ObjectRow, CustomerKey | None, ByteRange | None, dict[str, Any]]:
    """What GetObject and HeadObject share: the version, its key, conditions, the byte window and the
    members."""
    record, customer = _readable_version(ctx, request)
    check_read_conditions(request, record)
    window = _window(request, record)
    members = {**object_members(record, request), **read_version(record)}
    if record.is_current:
        members.update(
            expiration_member(
                record.lifecycle_rules, record.key, record.tags, record.size, record.last_modified
            )
        )
    if customer is not None:
        members.update(customer.members())
    if window is not None:
        members.update(ContentRange=window.content_range, ContentLength=window.length)
        # a whole-object checksum cannot verify a slice (clients would reject the body); a part has its own
        for name in [name for name in members if name.startswith("Checksum")]:
            del members[name]
        if "PartNumber" in request:
            members.update(part_checksum_members(record, request))
    if "PartNumber" in request and record.part_sizes:
        members["PartsCount"] = len(record.part_sizes)
    return record, customer, window, members


@s3.operation
def get_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any] | WithStatus:
    record, customer, window, members = _read_view(ctx, request)
    start, length = (window.start, window.length) if window else (0, record.size)
    members["Body"] = stored_bytes(ctx, record, customer, start, length)
    return WithStatus(206, members) if window else members


@s3.operation
def head_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any] | WithStatus:
    _, _, window, members = _read_view(ctx, request)
    return WithStatus(206, members) if window else members


@s3.operation
def get_object_attributes(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    record, _ = _readable_version(ctx, request)
    wanted = set(request.get("ObjectAttributes") or [])
    output: dict[str, Any] = {"LastModified": record.last_modified, **read_version(record)}
    if "ETag" in wanted:
        output["ETag"] = record.etag.strip('"')
    if "Checksum" in wanted and record.checksums:
        output["Checksum"] = {**checksum_members(record.checksums), "ChecksumType": record.checksum_type}
    if "ObjectSize" in wanted:
        output["ObjectSize"] = record.size
    if "StorageClass" in wanted:
        output["StorageClass"] = record.storage_class
    if "ObjectParts" in wanted and record.part_sizes:
        output["ObjectParts"] = object_parts(record, request)
    return output


@s3.operation
def delete_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """MFA delete is not modelled: any version is deleted without an MFA token."""
    require_bucket(ctx, request["Bucket"])
    return remove_object(ctx, request["Bucket"], request["Key"], request.get("VersionId"), request)


@s3.operation
def delete_objects(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    delete = request.get("Delete") or {}
    entries = delete.get("Objects") or []
    if not entries or len(entries) > MAX_DELETE_KEYS:
        raise AwsError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema",
        )
    require_bucket(ctx, request["Bucket"])
    deleted, errors = [], []
    for entry in entries:
        version = {"VersionId": entry["VersionId"]} if "VersionId" in entry else {}
        if f"arn:aws:s3:::{request['Bucket']}/{entry['Key']}" in ctx.denied_resources:
            errors.append(
                {"Key": entry["Key"], **version, "Code": "AccessDenied", "Message": "Access Denied"}
            )
            continue
        try:
            removed = remove_object(ctx, request["Bucket"], entry["Key"], entry.get("VersionId"))
        except AwsError as error:
            errors.append({"Key": entry["Key"], **version, "Code": error.code, "Message": error.message})
            continue
        if not delete.get("Quiet"):
            deleted.append({"Key": entry["Key"], **version, **_deleted_markers(removed, version)})
    output: dict[str, Any] = {}
    if deleted:
        output["Deleted"] = deleted
    if errors:
        output["Errors"] = errors
    return output


def _deleted_markers(removed: dict[str, Any], version: dict[str, str]) -> dict[str, Any]:
    """DeleteObjects' account of a delete marker: the one it created, or the one it deleted."""
    if not removed.get("DeleteMarker"):
        return {}
    if version:
        return {"DeleteMarker": True, "DeleteMarkerVersionId": version["VersionId"]}
    return {"DeleteMarker": True, "DeleteMarkerVersionId": removed["VersionId"]}


def parse_copy_source(copy_source: str) -> tuple[str, str, str | None]:
    """x-amz-copy-source: "bucket/key" URL-encoded, optionally "?versionId=...": bucket, key, version."""
    path, _, query = copy_source.partition("?")
    version_id = (parse_qs(query).get("versionId") or [None])[0]
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise AwsError(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            fields={"ArgumentName": "x-amz-copy-source"},
        )
    return bucket, key, version_id


def open_copy_source(ctx: RequestContext, request: dict[str, Any]) -> tuple[ObjectRow, CustomerKey | None]:
    """The copy source's version and the customer key that reads it, after its x-amz-copy-source-if-*
    conditions."""
    source_bucket, source_key, version_id = parse_copy_source(request["CopySource"])
    try:
        source = find_object(ctx, source_bucket, source_key, version_id)
    except AwsError as error:
        if error.code != "MethodNotAllowed":
            raise
        raise AwsError(
            "InvalidRequest",
            "The source of a copy request may not specifically refer to a delete marker by version id.",
        ) from None
    customer = key_for(source.sse_customer, customer_key(request, "CopySource"))
    check_read_conditions(request, source, prefix="CopySource")
    return source, customer


def copy_source_version(source: ObjectRow) -> dict[str, str]:
    version = read_version(source)
    return {"CopySourceVersionId": version["VersionId"]} if version else {}


@s3.operation
def copy_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    bucket, key = request["Bucket"], request["Key"]
    source, source_customer = open_copy_source(ctx, request)
    require_bucket(ctx, bucket)
    check_key_for_write(key)
    customer = customer_key(request)
    replace = request.get("MetadataDirective", "COPY") == "REPLACE"
    changes = replace or customer is not None or any(name in request for name in _SELF_COPY_CHANGES)
    if (source.bucket, source.key) == (bucket, key) and not changes:
        raise AwsError(
            "InvalidRequest",
            "This copy request is illegal because it is trying to copy an object to itself without "
            "changing the object's metadata, storage class, website redirect location or encryption "
            "attributes.",
        )
    attributes = content_attributes(request) if replace else copied_attributes(source)
    if not replace and "StorageClass" in request:
        if request["StorageClass"] not in STORAGE_CLASSES:
            raise AwsError("InvalidStorageClass", "The storage class you specified is not valid")
        attributes["storage_class"] = request["StorageClass"]
    replace_tags = request.get("TaggingDirective") == "REPLACE"
    attributes["tags"] = tags_from_query(request.get("Tagging")) if replace_tags else dict(source.tags)
    attributes["acl"] = object_acl(ctx, bucket, request)  # a copy's ACL is the request's, never the source's
    digests = UploadDigests(requested_algorithms(request, *source.checksums))
    body = stored_bytes(ctx, source, source_customer, 0, source.size)
    row = save_object(ctx, bucket, key, body, digests, attributes, request, customer)
    result = {"ETag": row["etag"], "LastModified": row["last_modified"], **checksum_members(row["checksums"])}
    return {"CopyObjectResult": result, **_written(row, customer), **copy_source_version(source)}
