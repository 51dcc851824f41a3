"""CORS configuration: Put/Get/DeleteBucketCors, and the rules the gateway evaluates for browsers
(preflight OPTIONS and the Access-Control-* headers of every S3 answer)."""

from __future__ import annotations

from typing import Any

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.buckets import configured_setting, set_bucket_setting
from nimbus.storage import Storage
from nimbus.storage.schema import BucketRecord

MAX_RULES = 100
MAX_ID = 255
METHODS = frozenset({"GET", "PUT", "HEAD", "POST", "DELETE"})
_COLUMN = "cors_rules"


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidRequest", message, 400)


def _check_rule(rule: dict[str, Any]) -> None:
    if len(rule.get("ID", "")) > MAX_ID:
        raise AwsError("InvalidArgument", f"The ID of a CORS rule must be at most {MAX_ID} characters.")
    for method in rule["AllowedMethods"]:
        if method not in METHODS:
            raise _invalid(f"Found unsupported HTTP method in CORS config. Unsupported method is {method}")
    for origin in rule["AllowedOrigins"]:
        if origin.count("*") > 1:
            raise _invalid(f'AllowedOrigin "{origin}" can not have more than one wildcard.')
    for header in rule.get("AllowedHeaders") or []:
        if header.count("*") > 1:
            raise _invalid(f'AllowedHeader "{header}" can not have more than one wildcard.')


@s3.operation
def put_bucket_cors(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    rules = (request.get("CORSConfiguration") or {}).get("CORSRules") or []
    if not 1 <= len(rules) <= MAX_RULES:
        raise AwsError(
            "MalformedXML",
            f"The XML you provided was not well-formed or did not validate against our published schema "
            f"(a CORS configuration holds 1 to {MAX_RULES} rules).",
        )
    for rule in rules:
        _check_rule(rule)
    set_bucket_setting(ctx, request["Bucket"], _COLUMN, rules)
    return {}


@s3.operation
def get_bucket_cors(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    rules = configured_setting(
        ctx, request["Bucket"], _COLUMN, "NoSuchCORSConfiguration", "CORS configuration"
    )
    return {"CORSRules": rules}


@s3.operation
def delete_bucket_cors(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    set_bucket_setting(ctx, request["Bucket"], _COLUMN, None)
    return {}


def bucket_cors_rules(storage: Storage, bucket: str) -> list[dict[str, Any]] | None:
    """The bucket's CORS rules, None when it has none; for the gateway, which applies them."""
    with storage.database.session() as session:
        record = session.get(BucketRecord, bucket)
    return None if record is None else record.cors_rules
