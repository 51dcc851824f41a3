"""CORS for S3, as S3 evaluates a bucket's rules: the answer to a browser's preflight OPTIONS (which
browsers send unsigned), and the Access-Control-* headers of every S3 answer to a request with an
Origin. The first rule that allows the origin, the method and (for a preflight) every requested
header applies; its rules are the bucket's, from PutBucketCors."""

from __future__ import annotations

from typing import Any

from nimbus.errors import AwsError
from nimbus.gateway.dispatch import path_style
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.services.s3.cors import METHODS, bucket_cors_rules
from nimbus.storage import Storage

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
NOT_ALLOWED = (
    "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
    "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted "
    "by the resource's CORS spec."
)


def _bucket(request: HttpRequest) -> str:
    segments = path_style(request).path_segments
    return segments[0] if segments else ""


def _wildcard_match(pattern: str, value: str) -> bool:
    """S3's patterns: at most one "*", matching any run of characters (none included)."""
    head, star, tail = pattern.partition("*")
    if not star:
        return pattern == value
    return len(value) >= len(head) + len(tail) and value.startswith(head) and value.endswith(tail)


def _matching_origin(rule: dict[str, Any], origin: str) -> str | None:
    return next((allowed for allowed in rule["AllowedOrigins"] if _wildcard_match(allowed, origin)), None)


def _allows_headers(rule: dict[str, Any], headers: list[str]) -> bool:
    allowed = [pattern.lower() for pattern in rule.get("AllowedHeaders") or []]
    return all(any(_wildcard_match(pattern, header) for pattern in allowed) for header in headers)


def _first_rule(
    rules: list[dict[str, Any]], origin: str, method: str, headers: list[str]
) -> tuple[dict[str, Any], str] | None:
    for rule in rules:
        allowed_origin = _matching_origin(rule, origin)
        if allowed_origin is not None and method in rule["AllowedMethods"] and _allows_headers(rule, headers):
            return rule, allowed_origin
    return None


def _allow(rule: dict[str, Any], allowed_origin: str, origin: str) -> dict[str, str]:
    headers = {"Access-Control-Allow-Methods": ", ".join(rule["AllowedMethods"]), "Vary": VARY}
    if allowed_origin == "*":
        headers["Access-Control-Allow-Origin"] = "*"
    else:
        headers.update({"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"})
    if rule.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ", ".join(rule["ExposeHeaders"])
    if "MaxAgeSeconds" in rule:
        headers["Access-Control-Max-Age"] = str(rule["MaxAgeSeconds"])
    return headers


def preflight(request: HttpRequest, storage: Storage) -> HttpResponse:
    """The answer to an OPTIONS request: 200 with what the matching rule allows, 400 without an Origin
    or a valid Access-Control-Request-Method, 403 when no rule allows it."""
    origin = request.headers.get("origin")
    method = request.headers.get("access-control-request-method")
    if not origin:
        raise AwsError("BadRequest", "Insufficient information. Origin request header needed.", 400)
    if method not in METHODS:
        raise AwsError("BadRequest", f"Invalid Access-Control-Request-Method: {method or 'null'}", 400)
    requested = request.headers.get("access-control-request-headers", "")
    headers = [name.strip().lower() for name in requested.split(",") if name.strip()]
    rules = bucket_cors_rules(storage, _bucket(request))
    if rules is None:
        raise _forbidden("CORSResponse: CORS is not enabled for this bucket.", method)
    found = _first_rule(rules, origin, method, headers)
    if found is None:
        raise _forbidden(NOT_ALLOWED, method)
    answer = _allow(*found, origin)
    if headers:
        answer["Access-Control-Allow-Headers"] = ", ".join(headers)
    return HttpResponse(200, answer)


def _forbidden(message: str, method: str) -> AwsError:
    return AwsError("AccessForbidden", message, 403, fields={"Method": method, "ResourceType": "OBJECT"})


def add_cors_headers(request: HttpRequest, response: HttpResponse, storage: Storage) -> None:
    """Adds the headers of the first rule that allows the request's origin and method (to errors too);
    a request without an Origin, or to a bucket without CORS rules, gets none."""
    origin = request.headers.get("origin")
    bucket = _bucket(request)
    if not origin or not bucket:
        return
    rules = bucket_cors_rules(storage, bucket)
    if rules is None:
        return
    found = _first_rule(rules, origin, request.method, [])
    response.headers.update(_allow(*found, origin) if found else {"Vary": VARY})
