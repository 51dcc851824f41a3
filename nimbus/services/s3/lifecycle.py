"""Lifecycle configuration: Put/Get/DeleteBucketLifecycleConfiguration, which objects a rule applies
to, when they expire, and the x-amz-expiration header that says so. The sweeper that acts on the rules
is ``lifecycle_sweep``."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.buckets import configured_setting, set_bucket_setting
from nimbus.services.s3.tagging import checked_tags

MAX_RULES = 1000
MAX_ID = 255
MAX_NEWER_NONCURRENT = 100
_COLUMN = "lifecycle_rules"
_ACTIONS = (
    "Expiration",
    "NoncurrentVersionExpiration",
    "AbortIncompleteMultipartUpload",
    "Transitions",
    "NoncurrentVersionTransitions",
)
_FILTER_KINDS = ("Prefix", "Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan")


def _malformed(reason: str) -> AwsError:
    message = "The XML you provided was not well-formed or did not validate against our published schema"
    return AwsError("MalformedXML", f"{message} ({reason}).")


def _invalid(message: str, rule: Mapping[str, Any]) -> AwsError:
    return AwsError("InvalidArgument", message, 400, fields={"ArgumentName": rule.get("ID", "")})


@dataclass(frozen=True)
class Scope:
    """The objects a rule applies to: key prefix, tags (all must match) and a size window."""

    prefix: str = ""
    tags: Mapping[str, str] | None = None
    larger_than: int | None = None
    smaller_than: int | None = None

    def applies(self, key: str, tags: Mapping[str, str], size: int) -> bool:
        return (
            key.startswith(self.prefix)
            and all(tags.get(name) == value for name, value in (self.tags or {}).items())
            and (self.larger_than is None or size > self.larger_than)
            and (self.smaller_than is None or size < self.smaller_than)
        )


def rule_scope(rule: Mapping[str, Any]) -> Scope:
    if "Filter" not in rule:
        return Scope(prefix=rule.get("Prefix", ""))
    found = rule["Filter"]
    both = found.get("And") or {}
    tags = [found["Tag"]] if "Tag" in found else both.get("Tags") or []
    return Scope(
        prefix=found.get("Prefix", both.get("Prefix", "")),
        tags={tag["Key"]: tag["Value"] for tag in tags} or None,
        larger_than=found.get("ObjectSizeGreaterThan", both.get("ObjectSizeGreaterThan")),
        smaller_than=found.get("ObjectSizeLessThan", both.get("ObjectSizeLessThan")),
    )


def after_days(start: datetime, days: int) -> datetime:
    """AWS's rounding: ``days`` after ``start``, then up to the next midnight UTC."""
    moment = start.astimezone(UTC) + timedelta(days=days)
    midnight = datetime.combine(moment.date(), time(0), UTC)
    return midnight if midnight == moment else midnight + timedelta(days=1)


def enabled_rules(rules: list[Any] | None) -> list[dict[str, Any]]:
    return [_stored_to_rule(rule) for rule in rules or [] if rule.get("Status") == "Enabled"]


def expiry(rule: Mapping[str, Any], created: datetime) -> datetime | None:
    """When the rule's Expiration (Days or Date) expires a current version created at ``created``."""
    expiration = rule.get("Expiration") or {}
    if "Days" in expiration:
        return after_days(created, expiration["Days"])
    return expiration.get("Date")


def expiration_member(
    rules: list[Any] | None, key: str, tags: Mapping[str, str], size: int, created: datetime
) -> dict[str, str]:
    """The Expiration member (x-amz-expiration) of an answer about a current version: the earliest
    expiry among the enabled rules that apply to it."""
    candidates = [
        (when, rule["ID"])
        for rule in enabled_rules(rules)
        if (when := expiry(rule, created)) is not None and rule_scope(rule).applies(key, tags, size)
    ]
    if not candidates:
        return {}
    when, rule_id = min(candidates)
    return {"Expiration": f'expiry-date="{when.strftime("%a, %d %b %Y %H:%M:%S GMT")}", rule-id="{rule_id}"'}


def abort_member(rules: list[Any] | None, key: str, initiated: datetime) -> dict[str, Any]:
    """CreateMultipartUpload's AbortDate and AbortRuleId: when the earliest applicable
    AbortIncompleteMultipartUpload rule will abort the upload."""
    candidates = [
        (after_days(initiated, days), rule["ID"])
        for rule in enabled_rules(rules)
        if (days := (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation")) is not None
        and key.startswith(rule_scope(rule).prefix)
    ]
    if not candidates:
        return {}
    when, rule_id = min(candidates)
    return {"AbortDate": when, "AbortRuleId": rule_id}


def _check_rule(rule: dict[str, Any]) -> None:
    if len(rule.get("ID", "")) > MAX_ID:
        raise _invalid(f"ID length should not exceed allowed limit of {MAX_ID}", rule)
    if ("Filter" in rule) == ("Prefix" in rule):
        raise _malformed("a rule needs exactly one of Filter and Prefix")
    kinds = [kind for kind in _FILTER_KINDS if kind in (rule.get("Filter") or {})]
    if len(kinds) > 1:
        raise _malformed(f"a Filter holds one of {', '.join(_FILTER_KINDS)} (use And to combine them)")
    if not any(action in rule for action in _ACTIONS):
        raise AwsError("InvalidRequest", "At least one action needs to be specified in a rule")
    for transition in rule.get("Transitions") or []:  # bad input first, then what Nimbus lacks
        _check_midnight(rule, transition.get("Date"))
    if rule.get("Transitions") or rule.get("NoncurrentVersionTransitions"):
        raise AwsError(
            "NotImplemented",
            "Nimbus keeps every object in one storage tier: lifecycle transitions are not supported.",
            501,
        )
    scope = rule_scope(rule)
    if scope.tags is not None:
        checked_tags(scope.tags.items())
    small, large = scope.smaller_than, scope.larger_than
    if (small is not None and small <= 0) or (large is not None and large < 0):
        raise _invalid("Object size filters must be positive", rule)
    if small is not None and large is not None and large >= small:
        raise _invalid("ObjectSizeGreaterThan must be less than ObjectSizeLessThan", rule)
    _check_expiration(rule, scope)
    _check_positive(rule, "NoncurrentVersionExpiration", "NoncurrentDays")
    _check_positive(rule, "AbortIncompleteMultipartUpload", "DaysAfterInitiation")
    newer = (rule.get("NoncurrentVersionExpiration") or {}).get("NewerNoncurrentVersions")
    if newer is not None and not 1 <= newer <= MAX_NEWER_NONCURRENT:
        raise _invalid(f"NewerNoncurrentVersions must be between 1 and {MAX_NEWER_NONCURRENT}", rule)
    if "AbortIncompleteMultipartUpload" in rule and (scope.tags or small is not None or large is not None):
        raise AwsError(
            "InvalidRequest", "AbortIncompleteMultipartUpload cannot be specified with tags or object sizes."
        )


def _check_expiration(rule: dict[str, Any], scope: Scope) -> None:
    expiration = rule.get("Expiration")
    if expiration is None:
        return
    given = [name for name in ("Days", "Date", "ExpiredObjectDeleteMarker") if name in expiration]
    if len(given) != 1:
        raise _malformed("Expiration holds exactly one of Days, Date and ExpiredObjectDeleteMarker")
    _check_positive(rule, "Expiration", "Days")
    _check_midnight(rule, expiration.get("Date"))
    if "ExpiredObjectDeleteMarker" in expiration and scope.tags:
        raise AwsError("InvalidRequest", "ExpiredObjectDeleteMarker cannot be specified with tags.")


def _check_midnight(rule: dict[str, Any], date: datetime | None) -> None:
    if date is not None and date.astimezone(UTC).timetz() != time(0, tzinfo=UTC):
        raise _invalid("'Date' must be at midnight GMT", rule)


def _check_positive(rule: dict[str, Any], action: str, member: str) -> None:
    value = (rule.get(action) or {}).get(member)
    if value is not None and value <= 0:
        raise _invalid(f"'{member}' for {action} action must be a positive integer", rule)


def _rule_to_stored(rule: dict[str, Any]) -> dict[str, Any]:
    """JSON for the database: the Expiration Date as ISO 8601."""
    stored = dict(rule)
    if "Date" in (rule.get("Expiration") or {}):
        stored["Expiration"] = {**rule["Expiration"], "Date": rule["Expiration"]["Date"].isoformat()}
    return stored


def _stored_to_rule(stored: dict[str, Any]) -> dict[str, Any]:
    rule = dict(stored)
    if "Date" in (stored.get("Expiration") or {}):
        rule["Expiration"] = {
            **stored["Expiration"],
            "Date": datetime.fromisoformat(stored["Expiration"]["Date"]),
        }
    return rule


@s3.operation
def put_bucket_lifecycle_configuration(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Transitions are refused with `NotImplemented` (501): Nimbus has one storage tier. The rules are
    applied by a sweeper every `NIMBUS_S3_LIFECYCLE_INTERVAL` seconds (default 3600), and at once by
    `POST /_nimbus/s3/lifecycle-sweep` (see README)."""
    rules = [dict(rule) for rule in (request.get("LifecycleConfiguration") or {}).get("Rules") or []]
    if not 1 <= len(rules) <= MAX_RULES:
        raise _malformed(f"a lifecycle configuration holds 1 to {MAX_RULES} rules")
    for rule in rules:
        rule.setdefault("ID", secrets.token_urlsafe(36))
        _check_rule(rule)
    ids = [rule["ID"] for rule in rules]
    if len(set(ids)) != len(ids):
        raise AwsError("InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule")
    set_bucket_setting(ctx, request["Bucket"], _COLUMN, [_rule_to_stored(rule) for rule in rules])
    return {}


@s3.operation
def get_bucket_lifecycle_configuration(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    bucket = request["Bucket"]
    rules = configured_setting(
        ctx, bucket, _COLUMN, "NoSuchLifecycleConfiguration", "lifecycle configuration"
    )
    return {"Rules": [_stored_to_rule(rule) for rule in rules]}


@s3.operation
def delete_bucket_lifecycle(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    set_bucket_setting(ctx, request["Bucket"], _COLUMN, None)
    return {}
