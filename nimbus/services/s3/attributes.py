"""What a write sets besides the bytes (content headers, user metadata, storage class) and how a
stored object is described back to the client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.s3.checksums import checksum_members
from nimbus.services.s3.paging import check_max
from nimbus.storage.schema import ObjectRow

DEFAULT_CONTENT_TYPE = "binary/octet-stream"
DEFAULT_STORAGE_CLASS = "STANDARD"
MAX_METADATA_BYTES = 2048
STORAGE_CLASSES = frozenset(
    {
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "OUTPOSTS",
        "GLACIER_IR",
        "SNOW",
        "EXPRESS_ONEZONE",
    }
)

# request/response member -> column, for the headers S3 stores and returns verbatim
CONTENT_MEMBERS = {
    "ContentType": "content_type",
    "ContentEncoding": "content_encoding",
    "ContentDisposition": "content_disposition",
    "ContentLanguage": "content_language",
    "CacheControl": "cache_control",
    "Expires": "expires",
}


def content_attributes(request: Mapping[str, Any]) -> dict[str, Any]:
    """Column values for the content headers, metadata and storage class a write request sets."""
    metadata = dict(request.get("Metadata") or {})
    check_metadata_size(metadata)
    storage_class = request.get("StorageClass") or DEFAULT_STORAGE_CLASS
    if storage_class not in STORAGE_CLASSES:
        raise AwsError("InvalidStorageClass", "The storage class you specified is not valid", 400)
    values = {column: request.get(name) for name, column in CONTENT_MEMBERS.items()}
    values["content_type"] = values["content_type"] or DEFAULT_CONTENT_TYPE
    values["content_encoding"] = _stored_encoding(values["content_encoding"])
    return {**values, "user_metadata": metadata, "storage_class": storage_class}


def _stored_encoding(encoding: str | None) -> str | None:
    """The Content-Encoding without ``aws-chunked``, which says how the body travelled, not what it is."""
    kept = [token.strip() for token in (encoding or "").split(",")]
    return ", ".join(token for token in kept if token and token.lower() != "aws-chunked") or None


def copied_attributes(source: ObjectRow) -> dict[str, Any]:
    """The same column values, taken from a stored object (CopyObject's MetadataDirective=COPY)."""
    values = {column: getattr(source, column) for column in CONTENT_MEMBERS.values()}
    return {**values, "user_metadata": dict(source.user_metadata), "storage_class": source.storage_class}


def check_metadata_size(metadata: Mapping[str, str]) -> None:
    size = sum(len(name.encode()) + len(value.encode()) for name, value in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise AwsError(
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
            400,
            fields={"Size": str(size), "MaxSizeAllowed": str(MAX_METADATA_BYTES)},
        )


def object_members(record: ObjectRow, request: Mapping[str, Any]) -> dict[str, Any]:
    """GetObject/HeadObject's description of an object, with the request's Response* overrides."""
    members: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "LastModified": record.last_modified,
        "ContentLength": record.size,
        "ETag": record.etag,
    }
    for name, column in CONTENT_MEMBERS.items():
        value = request.get(f"Response{name}") or getattr(record, column)
        if value is not None:
            members[name] = value
    if record.user_metadata:
        members["Metadata"] = dict(record.user_metadata)
    if record.storage_class != DEFAULT_STORAGE_CLASS:
        members["StorageClass"] = record.storage_class
    if record.tags:
        members["TagCount"] = len(record.tags)
    if request.get("ChecksumMode") == "ENABLED" and record.checksums:
        members.update(checksum_members(record.checksums), ChecksumType=record.checksum_type)
    return members


def part_checksum_members(record: ObjectRow, request: Mapping[str, Any]) -> dict[str, Any]:
    """GetObject/HeadObject with partNumber and ChecksumMode=ENABLED: the part's own checksum."""
    if request.get("ChecksumMode") != "ENABLED" or not record.part_checksums:
        return {}
    part = record.part_checksums[request["PartNumber"] - 1]
    return {**checksum_members(part), "ChecksumType": record.checksum_type}


def object_parts(record: ObjectRow, request: Mapping[str, Any]) -> dict[str, Any]:
    """GetObjectAttributes' ObjectParts of a multipart object, a page at a time (MaxParts after
    PartNumberMarker), each part with its size and checksum."""
    limit = check_max("max-parts", request.get("MaxParts", 1000))
    marker = request.get("PartNumberMarker", 0)
    checksums = record.part_checksums or [{}] * len(record.part_sizes)
    following = list(enumerate(zip(record.part_sizes, checksums, strict=True), start=1))[marker:]
    parts = [
        {"PartNumber": number, "Size": size, **checksum_members(part_checksums)}
        for number, (size, part_checksums) in following[:limit]
    ]
    output: dict[str, Any] = {
        "TotalPartsCount": len(record.part_sizes),
        "PartNumberMarker": marker,
        "MaxParts": limit,
        "IsTruncated": len(following) > limit,
        "Parts": parts,
    }
    if parts:
        output["NextPartNumberMarker"] = parts[-1]["PartNumber"]
    return output
