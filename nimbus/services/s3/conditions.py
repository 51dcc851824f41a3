"""Conditional requests (RFC 7232 as S3 applies it) and byte ranges."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nimbus.errors import AwsError
from nimbus.storage.schema import ObjectRow

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_COPY_RANGE = re.compile(r"bytes=(\d+)-(\d+)")


def etag_matches(header: str, etag: str) -> bool:
    """Whether a comma-separated If-Match/If-None-Match list names ``etag`` (or is "*")."""
    wanted = etag.strip('"')
    for candidate in header.split(","):
        value = candidate.strip().removeprefix("W/").strip('"')
        if value == "*" or value == wanted:
            return True
    return False


def _modified_since(record: ObjectRow, when: datetime) -> bool:
    # Last-Modified travels with one-second precision
    return record.last_modified.replace(microsecond=0) > when


def precondition_failed(condition: str) -> AwsError:
    return AwsError(
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold",
        412,
        fields={"Condition": condition},
    )


def check_read_conditions(request: Mapping[str, Any], record: ObjectRow, prefix: str = "") -> None:
    """If-Match beats If-Unmodified-Since, If-None-Match beats If-Modified-Since, failures (412)
    before not-modified (304). With ``prefix`` "CopySource" (a copy's source) every failure is 412."""
    if_match = request.get(f"{prefix}IfMatch")
    header = "x-amz-copy-source-" if prefix else ""
    if if_match is not None:
        if not etag_matches(if_match, record.etag):
            raise precondition_failed(f"{header}If-Match")
    elif (since := request.get(f"{prefix}IfUnmodifiedSince")) is not None and _modified_since(record, since):
        raise precondition_failed(f"{header}If-Unmodified-Since")
    if_none_match = request.get(f"{prefix}IfNoneMatch")
    if if_none_match is not None:
        not_modified = etag_matches(if_none_match, record.etag)
        condition = "If-None-Match"
    else:
        since = request.get(f"{prefix}IfModifiedSince")
        not_modified = since is not None and not _modified_since(record, since)
        condition = "If-Modified-Since"
    if not_modified:
        if prefix:
            raise precondition_failed(f"{header}{condition}")
        raise AwsError(
            "NotModified",
            "Not Modified",
            304,
            headers={"ETag": record.etag, "Last-Modified": _http_date(record.last_modified)},
        )


def _http_date(when: datetime) -> str:
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")


@dataclass(frozen=True)
class ByteRange:
    start: int
    length: int
    size: int  # of the whole object

    @property
    def content_range(self) -> str:
        return f"bytes {self.start}-{self.start + self.length - 1}/{self.size}"


def parse_range(header: str, size: int) -> ByteRange | None:
    """A single "bytes=a-b", "bytes=a-" or "bytes=-n" range; None (the whole object) for syntax S3
    ignores; InvalidRange (416) when nothing of the object falls inside it."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        length = min(int(last), size)
        if length == 0:
            raise invalid_range(header, size)
        return ByteRange(size - length, length, size)
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise invalid_range(header, size)
    return ByteRange(start, end - start + 1, size)


def parse_copy_range(header: str | None, size: int) -> ByteRange:
    """UploadPartCopy's x-amz-copy-source-range, which must be exactly "bytes=first-last" (unlike a
    GET's Range, nothing is ignored); the whole source without one."""
    if header is None:
        return ByteRange(0, size, size)
    match = _COPY_RANGE.fullmatch(header.strip())
    if match is None or int(match.group(2)) < int(match.group(1)):
        raise AwsError(
            "InvalidArgument",
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last "
            "are the zero-based offsets of the first and last bytes to copy",
            fields={"ArgumentName": "x-amz-copy-source-range", "ArgumentValue": header},
        )
    first, last = int(match.group(1)), int(match.group(2))
    if last >= size:
        raise invalid_range(header, size)
    return ByteRange(first, last - first + 1, size)


def invalid_range(header: str, size: int) -> AwsError:
    return AwsError(
        "InvalidRange",
        "The requested range is not satisfiable",
        416,
        fields={"ActualObjectSize": str(size), "RangeRequested": header},
        headers={"Content-Range": f"bytes */{size}"},
    )
