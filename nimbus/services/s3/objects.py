"""Single objects: put, get, head, delete (one or many), copy, and their attributes."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, unquote

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext, WithStatus
from nimbus.services.s3 import s3
from nimbus.services.s3.attributes import (
    STORAGE_CLASSES,
    content_attributes,
    copied_attributes,
    object_members,
)
from nimbus.services.s3.checksums import UploadDigests, checksum_members, requested_algorithms
from nimbus.services.s3.conditions import ByteRange, check_read_conditions, parse_range
from nimbus.services.s3.keys import check_key_for_write, storage_errors
from nimbus.services.s3.records import (
    check_version_id,
    find_object,
    remove_object,
    require_bucket,
    save_object,
)
from nimbus.services.s3.tagging import tags_from_query
from nimbus.storage.objects import FileRange
from nimbus.storage.schema import ObjectRow

MAX_DELETE_KEYS = 1000
# members that make copying an object onto itself a real change
_SELF_COPY_CHANGES = ("StorageClass", "WebsiteRedirectLocation", "ServerSideEncryption", "SSEKMSKeyId")


def _write_output(row: dict[str, Any]) -> dict[str, Any]:
    output = {"ETag": row["etag"], **checksum_members(row["checksums"])}
    if row["checksums"]:
        output["ChecksumType"] = "FULL_OBJECT"
    return output


@s3.operation
def put_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Objects are files: a key with `.`, `..` or empty segments, a NUL or a segment over 255 bytes
    is refused with `UnsupportedObjectKey` (400), an object `a` beside `a/b` with `ObjectKeyConflict`
    (409), and a key ending in `/` is a folder holding zero bytes. ACLs, server-side encryption and
    object lock are not modelled: their members are accepted and not applied."""
    bucket, key = request["Bucket"], request["Key"]
    require_bucket(ctx, bucket)
    check_key_for_write(key)
    attributes = {**content_attributes(request), "tags": tags_from_query(request.get("Tagging"))}
    digests = UploadDigests(requested_algorithms(request))
    body = request.get("Body") or io.BytesIO(b"")
    return _write_output(save_object(ctx, bucket, key, body, digests, attributes, request))


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


def _read_view(ctx: RequestContext, request: dict[str, Any]) -> tuple[ObjectRow, ByteRange | None, dict]:
    """What GetObject and HeadObject share: the row, conditions, the byte window and the members."""
    check_version_id(request.get("VersionId"))
    record = find_object(ctx, request["Bucket"], request["Key"])
    check_read_conditions(request, record)
    window = _window(request, record)
    members = object_members(record, request)
    if window is not None:
        members.update(ContentRange=window.content_range, ContentLength=window.length)
        # a whole-object checksum cannot verify a slice (clients would reject the body)
        for name in [name for name in members if name.startswith("Checksum")]:
            del members[name]
    if "PartNumber" in request and record.part_sizes:
        members["PartsCount"] = len(record.part_sizes)
    return record, window, members


@s3.operation
def get_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any] | WithStatus:
    record, window, members = _read_view(ctx, request)
    with storage_errors(record.key):
        handle = ctx.storage.objects.open_object(record.bucket, record.key)
    start, length = (window.start, window.length) if window else (0, record.size)
    members["Body"] = FileRange(handle, start, length)
    return WithStatus(206, members) if window else members


@s3.operation
def head_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any] | WithStatus:
    _, window, members = _read_view(ctx, request)
    return WithStatus(206, members) if window else members


@s3.operation
def get_object_attributes(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    check_version_id(request.get("VersionId"))
    record = find_object(ctx, request["Bucket"], request["Key"])
    wanted = set(request.get("ObjectAttributes") or [])
    output: dict[str, Any] = {"LastModified": record.last_modified}
    if "ETag" in wanted:
        output["ETag"] = record.etag.strip('"')
    if "Checksum" in wanted and record.checksums:
        output["Checksum"] = checksum_members(record.checksums)
    if "ObjectSize" in wanted:
        output["ObjectSize"] = record.size
    if "StorageClass" in wanted:
        output["StorageClass"] = record.storage_class
    if "ObjectParts" in wanted and record.part_sizes:
        output["ObjectParts"] = {"TotalPartsCount": len(record.part_sizes)}
    return output


@s3.operation
def delete_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A key that could never be stored (`..`, empty segments) gets `UnsupportedObjectKey`
    instead of AWS's 204."""
    check_version_id(request.get("VersionId"))
    require_bucket(ctx, request["Bucket"])
    remove_object(ctx, request["Bucket"], request["Key"])
    return {}


@s3.operation
def delete_objects(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Keys that could never be stored are reported per key with `UnsupportedObjectKey`."""
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
        try:
            check_version_id(entry.get("VersionId"))
            remove_object(ctx, request["Bucket"], entry["Key"])
        except AwsError as error:
            errors.append({"Key": entry["Key"], **version, "Code": error.code, "Message": error.message})
            continue
        if not delete.get("Quiet"):
            deleted.append({"Key": entry["Key"], **version})
    output: dict[str, Any] = {}
    if deleted:
        output["Deleted"] = deleted
    if errors:
        output["Errors"] = errors
    return output


def parse_copy_source(copy_source: str) -> tuple[str, str]:
    """x-amz-copy-source: "bucket/key" URL-encoded, optionally "?versionId=null"."""
    path, _, query = copy_source.partition("?")
    check_version_id((parse_qs(query).get("versionId") or [None])[0])
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    if not bucket or not key:
        raise AwsError(
            "InvalidArgument",
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            fields={"ArgumentName": "x-amz-copy-source"},
        )
    return bucket, key


def open_copy_source(ctx: RequestContext, request: dict[str, Any]) -> ObjectRow:
    """The copy source's row, after its x-amz-copy-source-if-* conditions."""
    source_bucket, source_key = parse_copy_source(request["CopySource"])
    source = find_object(ctx, source_bucket, source_key)
    check_read_conditions(request, source, prefix="CopySource")
    return source


@s3.operation
def copy_object(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The same key limits as PutObject apply to the destination."""
    bucket, key = request["Bucket"], request["Key"]
    source = open_copy_source(ctx, request)
    require_bucket(ctx, bucket)
    check_key_for_write(key)
    replace = request.get("MetadataDirective", "COPY") == "REPLACE"
    changes = replace or any(name in request for name in _SELF_COPY_CHANGES)
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
    digests = UploadDigests(requested_algorithms(request, *source.checksums))
    with storage_errors(source.key):
        handle = ctx.storage.objects.open_object(source.bucket, source.key)
    body = FileRange(handle, 0, source.size)
    row = save_object(ctx, bucket, key, body, digests, attributes, request)
    result = {"ETag": row["etag"], "LastModified": row["last_modified"], **checksum_members(row["checksums"])}
    return {"CopyObjectResult": result}
