"""Signature Version 4: the canonical request, exactly as botocore builds it, and its checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from hashlib import sha256
from urllib.parse import quote, unquote

from botocore.utils import normalize_url_path

from nimbus.gateway.auth.errors import MAX_SKEW, AuthErrors
from nimbus.gateway.auth.payload import (
    UNSIGNED_PAYLOAD,
    ChunkSigning,
    check_payload_hash_value,
    install_payload_check,
)
from nimbus.gateway.auth.scope import ALGORITHM, V4Signature, read_header_v4, read_presigned_v4
from nimbus.gateway.auth.signing import hmac_sha256, same_signature, signing_key
from nimbus.protocol.http import HttpRequest
from nimbus.storage.credentials import Credential

TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_PRESIGN_EXPIRES = 604800  # one week, AWS's limit


def verify_header_v4(request: HttpRequest, credential: Credential, errors: AuthErrors, now: datetime) -> None:
    claim = read_header_v4(request.headers["authorization"])
    timestamp = _header_timestamp(request, errors)
    _check_scope_date(claim, timestamp, errors, presigned=False)
    request_time = parse_timestamp(timestamp)
    if abs(request_time - now) > MAX_SKEW:
        raise errors.time_skewed(request_time, now)
    payload_hash = _declared_payload_hash(request, errors)
    key = _check_signature(request, claim, credential, timestamp, payload_hash, errors)
    signing = ChunkSigning(credential.access_key_id, key, timestamp, claim.credential.scope, claim.signature)
    install_payload_check(request, payload_hash, signing, errors)


def verify_presigned_v4(
    request: HttpRequest, credential: Credential, errors: AuthErrors, now: datetime
) -> None:
    claim = read_presigned_v4(request)
    timestamp = request.query_value("X-Amz-Date") or ""
    if _parse_timestamp_or_none(timestamp) is None:
        raise errors.malformed("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"", True)
    _check_scope_date(claim, timestamp, errors, presigned=True)
    expires_at = parse_timestamp(timestamp) + timedelta(seconds=_presign_expires(request, errors))
    if now > expires_at:
        raise errors.presign_expired(expires_at, now)
    payload_hash = _presigned_payload_hash(request, errors)
    _check_signature(request, claim, credential, timestamp, payload_hash, errors)
    install_payload_check(request, payload_hash, None, errors)


def canonical_request(request: HttpRequest, signed_headers: list[str], payload_hash: str, s3: bool) -> str:
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.path, s3),
            canonical_query_string(request.query_string),
            canonical_headers(request, signed_headers) + "\n",
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def canonical_uri(raw_path: str, s3: bool) -> str:
    """S3 signs the path as sent; other services sign it normalised and encoded once more (as botocore)."""
    if s3:
        return raw_path or "/"
    return quote(normalize_url_path(raw_path), safe="/~")


def canonical_query_string(raw_query: str) -> str:
    """Every parameter but X-Amz-Signature, decoded then encoded the one way SigV4 allows, sorted."""
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        name, _, value = item.partition("=")
        if name == "X-Amz-Signature":
            continue
        pairs.append((_sigv4_encode(unquote(name)), _sigv4_encode(unquote(value))))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_headers(request: HttpRequest, signed_headers: list[str]) -> str:
    # Values are trimmed and inner runs of spaces collapsed ("Trimall").
    return "\n".join(f"{name}:{' '.join(_signed_value(request, name).split())}" for name in signed_headers)


def _signed_value(request: HttpRequest, name: str) -> str:
    """HTTP/2 clients (the AWS SDK for JavaScript) sign the ``:authority`` pseudo-header, which
    the server hands on as ``host``."""
    if name == ":authority":
        return request.headers.get(name) or request.headers.get("host", "")
    return request.headers.get(name, "")


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, timestamp, scope, sha256(canonical.encode()).hexdigest()])


def parse_timestamp(text: str) -> datetime:
    return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def _check_signature(
    request: HttpRequest,
    claim: V4Signature,
    credential: Credential,
    timestamp: str,
    payload_hash: str,
    errors: AuthErrors,
) -> bytes:
    """Returns the signing key, which signed chunks are checked with."""
    scope = claim.credential
    canonical = canonical_request(request, claim.signed_headers, payload_hash, errors.is_s3)
    to_sign = string_to_sign(timestamp, scope.scope, canonical)
    key = signing_key(credential.secret_access_key, scope.date, scope.region, scope.service)
    if not same_signature(hmac_sha256(key, to_sign).hex(), claim.signature):
        raise errors.signature_mismatch(credential.access_key_id, to_sign, claim.signature, canonical)
    return key


def _header_timestamp(request: HttpRequest, errors: AuthErrors) -> str:
    """X-Amz-Date, or else the Date header in SigV4's format (botocore signs with either)."""
    amz_date = request.headers.get("x-amz-date")
    if amz_date is not None:
        if _parse_timestamp_or_none(amz_date) is None:
            raise errors.missing_date()
        return amz_date
    try:
        date = parsedate_to_datetime(request.headers.get("date") or "")
    except (TypeError, ValueError):
        raise errors.missing_date() from None
    if date.tzinfo is None:  # "-0000" parses as naive; it means UTC
        date = date.replace(tzinfo=UTC)
    return date.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def _check_scope_date(claim: V4Signature, timestamp: str, errors: AuthErrors, presigned: bool) -> None:
    if claim.credential.date != timestamp[:8]:
        raise errors.malformed(
            f'Invalid credential date "{claim.credential.date}". This date is not the same as X-Amz-Date: '
            f'"{timestamp[:8]}".',
            presigned,
        )


def _presign_expires(request: HttpRequest, errors: AuthErrors) -> int:
    text = request.query_value("X-Amz-Expires") or ""
    if not text.isdigit():
        raise errors.malformed("X-Amz-Expires should be a number", presigned=True)
    if int(text) > MAX_PRESIGN_EXPIRES:
        raise errors.malformed(
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}",
            presigned=True,
        )
    return int(text)


def _declared_payload_hash(request: HttpRequest, errors: AuthErrors) -> str:
    declared = request.headers.get("x-amz-content-sha256")
    if declared is not None:
        check_payload_hash_value(declared, errors)
        return declared
    if request.stream is not None and errors.is_s3:
        raise errors.invalid_request("Missing required header for this request: x-amz-content-sha256")
    # Without the header the body itself is signed (botocore signs every payload over http, even for
    # its "v4-unsigned-body" operations); the gateway reads such bodies whole.
    return sha256(request.body).hexdigest()


def _presigned_payload_hash(request: HttpRequest, errors: AuthErrors) -> str:
    """S3 presigned URLs sign no payload unless they say so; other services sign the body as usual."""
    declared = request.query_value("X-Amz-Content-Sha256")
    if declared is None and errors.is_s3:
        return UNSIGNED_PAYLOAD
    if declared is None:
        return _declared_payload_hash(request, errors)
    check_payload_hash_value(declared, errors)
    return declared


def _parse_timestamp_or_none(text: str) -> datetime | None:
    try:
        return parse_timestamp(text)
    except ValueError:
        return None


def _sigv4_encode(text: str) -> str:
    return quote(text, safe="-_.~")
