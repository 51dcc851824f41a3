"""S3's Signature Version 2 (HMAC-SHA1), which old tools and boto3's ``signature_version="s3"`` use.

The string to sign mirrors botocore's HmacV1Auth / HmacV1QueryAuth: method, Content-MD5,
Content-Type, Date (or Expires), the x-amz-* headers, and the resource with its sub-resources.
"""

from __future__ import annotations

import base64
import hmac
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from hashlib import sha1
from urllib.parse import unquote

from nimbus.errors import AwsError
from nimbus.gateway.auth.errors import MAX_SKEW, AuthErrors
from nimbus.gateway.auth.scope import read_header_v2
from nimbus.gateway.auth.signing import same_signature
from nimbus.protocol.http import HttpRequest
from nimbus.storage.credentials import Credential

EPOCH_YEAR = 1970
# The query parameters that are part of the signed resource (botocore's HmacV1Auth.QSAOfInterest).
SUB_RESOURCES = frozenset(
    [
        "accelerate",
        "acl",
        "cors",
        "defaultObjectAcl",
        "location",
        "logging",
        "partNumber",
        "policy",
        "requestPayment",
        "torrent",
        "versioning",
        "versionId",
        "versions",
        "website",
        "uploads",
        "uploadId",
        "response-content-type",
        "response-content-language",
        "response-expires",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "delete",
        "lifecycle",
        "tagging",
        "restore",
        "storageClass",
        "notification",
        "replication",
        "analytics",
        "metrics",
        "inventory",
        "select",
        "select-type",
        "object-lock",
    ]
)


def verify_v2(
    request: HttpRequest, credential: Credential, errors: AuthErrors, now: datetime, presigned: bool
) -> None:
    """``request.path`` must be path-style (``/bucket/key``) even for a virtual-hosted request."""
    if not errors.is_s3:
        raise errors.malformed("Signature Version 2 is supported by S3 only; sign with Signature Version 4.")
    if presigned:
        provided = (request.query_value("Signature") or "").replace(
            " ", "+"
        )  # an unencoded '+' arrives as ' '
        date_line = _presign_expires(request, errors, now)
    else:
        _, provided = read_header_v2(request.headers["authorization"])
        date_line = _header_date(request, errors, now)
    candidates = [
        string_to_sign_v2(request, date_line, presigned, resource) for resource in _resources(request)
    ]
    for to_sign in candidates:
        digest = hmac.new(credential.secret_access_key.encode(), to_sign.encode(), sha1).digest()
        if same_signature(base64.b64encode(digest).decode(), provided):
            return
    raise errors.signature_mismatch(credential.access_key_id, candidates[0], provided)


def _resources(request: HttpRequest) -> list[str]:
    """The canonical resources a client may have signed: a bucket's own resource is "/bucket" as
    sent, or "/bucket/" as botocore and virtual-hosted clients sign it."""
    resource = canonical_resource(request)
    path, _, sub_resources = resource.partition("?")
    if path.count("/") != 1 or path == "/":
        return [resource]
    return [resource, f"{path}/{'?' if sub_resources else ''}{sub_resources}"]


def string_to_sign_v2(request: HttpRequest, date_line: str, presigned: bool, resource: str) -> str:
    lines = [
        request.method.upper(),
        _header_or_param(request, "content-md5", presigned),
        _header_or_param(request, "content-type", presigned),
        date_line,
    ]
    amz_headers = [f"{name}:{value}\n" for name, value in sorted(_amz_headers(request, presigned).items())]
    return "\n".join(lines) + "\n" + "".join(amz_headers) + resource


def canonical_resource(request: HttpRequest) -> str:
    sub_resources = []
    for item in request.query_string.split("&") if request.query_string else []:
        name, equals, value = item.partition("=")
        if name in SUB_RESOURCES:
            sub_resources.append((name, f"{name}={unquote(value)}" if equals else name))
    sub_resources.sort(key=lambda pair: pair[0])
    suffix = "?" + "&".join(text for _, text in sub_resources) if sub_resources else ""
    return request.path + suffix


def _presign_expires(request: HttpRequest, errors: AuthErrors, now: datetime) -> str:
    expires = request.query_value("Expires") or ""
    if not expires.isdigit():
        raise AwsError(
            "AccessDenied",
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
            403,
        )
    expires_at = datetime.fromtimestamp(int(expires), UTC)
    if now > expires_at:
        raise errors.presign_expired(expires_at, now)
    return expires


def _header_date(request: HttpRequest, errors: AuthErrors, now: datetime) -> str:
    """The Date line; empty when x-amz-date is sent, which then signs among the x-amz-* headers."""
    amz_date = request.headers.get("x-amz-date")
    date_text = amz_date if amz_date is not None else request.headers.get("date") or ""
    try:
        request_time = parsedate_to_datetime(date_text)
    except (TypeError, ValueError):
        raise errors.missing_date() from None
    if request_time.tzinfo is None:  # "-0000" parses as naive; it means UTC
        request_time = request_time.replace(tzinfo=UTC)
    if request_time.year < EPOCH_YEAR:  # as S3: not a date it takes at all, rather than a skewed one
        raise errors.missing_date()
    if abs(request_time - now) > MAX_SKEW:
        raise errors.time_skewed(request_time, now)
    return "" if amz_date is not None else date_text


def _header_or_param(request: HttpRequest, name: str, presigned: bool) -> str:
    value = request.headers.get(name)
    if value is None and presigned:
        value = request.query_value(name)
    return (value or "").strip()


def _amz_headers(request: HttpRequest, presigned: bool) -> dict[str, str]:
    """x-amz-* headers; a presigned URL carries the ones it signed as query parameters."""
    found = {name: request.headers[name].strip() for name in request.headers if name.startswith("x-amz-")}
    if presigned:
        for name, values in request.query.items():
            if name.lower().startswith("x-amz-"):
                found.setdefault(name.lower(), values[0].strip())
    return found
