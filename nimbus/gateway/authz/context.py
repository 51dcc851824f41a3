"""The condition keys of a request: the global keys Nimbus knows (who calls, from where, when, over
TLS or not, which tags it sets), S3's keys from its headers and parameters, and any service key
that names an input member. Keys are lower case, as the evaluator looks them up; a multivalued
key (``aws:TagKeys``) is a tuple."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from nimbus.gateway.authz.actions import IamAction
from nimbus.gateway.authz.facts import RequestFacts
from nimbus.protocol.http import HttpRequest

Value = str | tuple[str, ...]
_S3_PARAMETERS = {
    "s3:prefix": "Prefix",
    "s3:delimiter": "Delimiter",
    "s3:max-keys": "MaxKeys",
    "s3:versionid": "VersionId",
}
_AUTH_TYPES = {"header-v4": "REST-HEADER", "header-v2": "REST-HEADER", "presigned-v4": "REST-QUERY-STRING"}


def request_context(facts: RequestFacts, action: IamAction, request: Mapping[str, Any]) -> dict[str, Value]:
    context: dict[str, Value] = {
        "aws:currenttime": facts.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:epochtime": str(int(facts.now.timestamp())),
        "aws:securetransport": "true" if facts.secure else "false",
        "aws:requestedregion": facts.region,
        "aws:viaawsservice": "false",
    }
    if facts.source_ip:
        context["aws:sourceip"] = facts.source_ip
    for header, key in (("user-agent", "aws:useragent"), ("referer", "aws:referer")):
        if header in facts.http.headers:
            context[key] = facts.http.headers[header]
    context.update(_request_tags(request, facts.http))
    if action.prefix == "s3":
        context.update(_s3_keys(facts, request))
    for key in action.condition_keys:
        prefix, _, name = key.partition(":")
        if prefix != action.prefix or "$" in name or "<" in name or key.lower() in context:
            continue
        value = _member(request, name)
        if value is not None:
            context[key.lower()] = value
    return context


def _request_tags(request: Mapping[str, Any], http: HttpRequest) -> dict[str, Value]:
    """aws:RequestTag/<key> and aws:TagKeys from the tags the request sets, in whatever shape the
    service takes them: a list of Key/Value pairs, a map, or S3's ``Tagging`` query string."""
    tags: dict[str, str] = {}
    found = request.get("Tags", request.get("tags"))
    if found and isinstance(found, list) and all(isinstance(key, str) for key in found):
        return {"aws:tagkeys": tuple(found)}  # UntagLogGroup's: the keys it removes
    if isinstance(found, list):
        tags = {
            str(tag.get("Key", tag.get("key"))): str(tag.get("Value", tag.get("value", ""))) for tag in found
        }
    elif isinstance(found, Mapping):
        tags = {str(key): str(value) for key, value in found.items()}
    elif isinstance(request.get("Tagging"), str):
        tags = dict(parse_qsl(request["Tagging"], keep_blank_values=True))
    elif isinstance(request.get("Tagging"), Mapping):
        tags = {tag["Key"]: tag["Value"] for tag in request["Tagging"].get("TagSet", [])}
    if not tags and "x-amz-tagging" not in http.headers:
        return {}
    context: dict[str, Value] = {f"aws:requesttag/{key.lower()}": value for key, value in tags.items()}
    context["aws:tagkeys"] = tuple(tags)
    return context


def _s3_keys(facts: RequestFacts, request: Mapping[str, Any]) -> dict[str, Value]:
    http = facts.http
    context: dict[str, Value] = {
        name: str(request[member])
        for name, member in _S3_PARAMETERS.items()
        if request.get(member) is not None
    }
    for header, value in http.headers.items():
        if header.startswith("x-amz-") and header not in ("x-amz-date", "x-amz-security-token"):
            context[f"s3:{header}"] = value
    if facts.signing_method:
        context["s3:authtype"] = _AUTH_TYPES.get(
            facts.signing_method, "POST" if facts.signing_method == "post" else "REST-QUERY-STRING"
        )
        context["s3:signatureversion"] = "AWS" if facts.signing_method.endswith("v2") else "AWS4-HMAC-SHA256"
    if facts.signed_at is not None:
        context["s3:signatureage"] = str(max(0, int((facts.now - facts.signed_at).total_seconds() * 1000)))
    if facts.secure:
        context["s3:tlsversion"] = "1.2"
    constraint = (request.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
    if constraint:
        context["s3:locationconstraint"] = constraint
    tagging = request.get("Tagging")
    if isinstance(tagging, str):
        pairs = dict(parse_qsl(tagging, keep_blank_values=True))
        context["s3:requestobjecttagkeys"] = tuple(pairs)
        context.update({f"s3:requestobjecttag/{key.lower()}": value for key, value in pairs.items()})
    return context


def _member(request: Mapping[str, Any], name: str) -> Value | None:
    """The top-level input member a service condition key names (``sagemaker:NetworkIsolation`` is
    EnableNetworkIsolation's value only by name, so it is not filled; ``sns:Protocol`` is)."""
    wanted = name.lower().replace("-", "")
    for member, value in request.items():
        if member.lower() == wanted:
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, str | int | float):
                return str(value)
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                return tuple(value)
    return None
