"""S3 browser-form uploads (POST Object): the signed policy and its conditions.

The form carries a base64 JSON policy (an expiration and a list of conditions) and a signature
of that base64 text: SigV4 (x-amz-algorithm, x-amz-credential, x-amz-date, x-amz-signature) or
SigV2 (AWSAccessKeyId, signature). Field names are case-insensitive.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from hashlib import sha1
from typing import Any

from nimbus.errors import AwsError
from nimbus.gateway.auth.errors import AuthErrors
from nimbus.gateway.auth.scope import ALGORITHM
from nimbus.gateway.auth.signing import hmac_sha256, same_signature, signing_key
from nimbus.storage.credentials import Credential

# Fields that need no condition: the file, the signature itself, and the bucket (from the URL).
_UNCONDITIONED = frozenset({"file", "policy", "x-amz-signature", "signature", "awsaccesskeyid", "bucket"})
_S3 = AuthErrors("s3")
# ISO 8601 in UTC, as S3 requires of a policy's expiration ("2007-12-01T12:00:00.000Z")
_EXPIRATION = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def verify_post_policy(
    fields: Mapping[str, str], lookup: Callable[[str], Credential | None], now: datetime
) -> tuple[Credential, dict]:
    form = _lower_names(fields)
    policy_text = form.get("policy")
    if not policy_text:
        raise AwsError("InvalidArgument", "Bucket POST must contain a field named 'policy'.", 400)
    policy = _decode_policy(policy_text)
    if "x-amz-algorithm" in form:
        credential = _verify_v4(form, policy_text, lookup)
    elif "awsaccesskeyid" in form:
        credential = _verify_v2(form, policy_text, lookup)
    else:
        raise AwsError(
            "InvalidArgument",
            "Bucket POST must contain a field named 'x-amz-credential' or 'AWSAccessKeyId'.",
            400,
        )
    if now.astimezone(UTC) > _expiration(policy):
        raise AwsError("AccessDenied", "Invalid according to Policy: Policy expired.", 403)
    return credential, policy


def check_post_policy_conditions(policy: dict, fields: Mapping[str, str], content_length: int) -> None:
    """``fields`` may include "bucket" (the URL's bucket) for the policy's bucket condition."""
    form = _lower_names(fields)
    covered: set[str] = set()
    for condition in policy["conditions"]:
        covered.add(_check_condition(condition, form, content_length))
    extra = sorted(name for name in form if name not in covered and not _needs_no_condition(name))
    if extra:
        raise AwsError(
            "AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(extra)}", 403
        )


def _verify_v4(
    form: dict[str, str], policy_text: str, lookup: Callable[[str], Credential | None]
) -> Credential:
    if form["x-amz-algorithm"] != ALGORITHM:
        raise AwsError("InvalidArgument", f'x-amz-algorithm only supports "{ALGORITHM}"', 400)
    parts = form.get("x-amz-credential", "").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AwsError("InvalidArgument", "x-amz-credential is malformed", 400)
    access_key_id, date, region, service, _ = parts
    credential = _known(lookup, access_key_id)
    expected = hmac_sha256(
        signing_key(credential.secret_access_key, date, region, service), policy_text
    ).hex()
    provided = _signature(form, "x-amz-signature")
    if not same_signature(expected, provided):
        raise _S3.signature_mismatch(access_key_id, policy_text, provided)
    return credential


def _verify_v2(
    form: dict[str, str], policy_text: str, lookup: Callable[[str], Credential | None]
) -> Credential:
    credential = _known(lookup, form["awsaccesskeyid"])
    digest = hmac.new(credential.secret_access_key.encode(), policy_text.encode(), sha1).digest()
    provided = _signature(form, "signature")
    if not same_signature(base64.b64encode(digest).decode(), provided):
        raise _S3.signature_mismatch(credential.access_key_id, policy_text, provided)
    return credential


def _signature(form: dict[str, str], name: str) -> str:
    if not form.get(name):
        raise AwsError("InvalidArgument", f"Bucket POST must contain a field named '{name}'.", 400)
    return form[name]


def _known(lookup: Callable[[str], Credential | None], access_key_id: str) -> Credential:
    credential = lookup(access_key_id)
    if credential is None:
        raise _S3.unknown_key(access_key_id)
    return credential


def _decode_policy(policy_text: str) -> dict:
    try:
        policy = json.loads(base64.b64decode(policy_text, validate=True))
    except (binascii.Error, ValueError):
        raise _invalid_policy("Invalid Policy: Invalid JSON.") from None
    if not isinstance(policy, dict):
        raise _invalid_policy("Invalid Policy: Invalid JSON.")
    if not isinstance(policy.get("conditions"), list):
        raise _invalid_policy("Invalid Policy: Policy missing conditions.")
    return policy


def _expiration(policy: dict) -> datetime:
    text = policy.get("expiration")
    if not isinstance(text, str):
        raise _invalid_policy("Invalid Policy: Policy missing expiration.")
    if not _EXPIRATION.fullmatch(text):
        raise _invalid_policy(f"Invalid Policy: Invalid 'expiration' value: '{text}'")
    return datetime.fromisoformat(text)


def _check_condition(condition: Any, form: dict[str, str], content_length: int) -> str:
    """Enforces one condition; returns the (lower-case) field it covers."""
    if isinstance(condition, dict) and len(condition) == 1:
        name, expected = next(iter(condition.items()))
        return _check_match("eq", name.lower(), expected, form, ["eq", f"${name}", expected])
    if isinstance(condition, list) and len(condition) == 3 and isinstance(condition[0], str):
        operator = condition[0].lower()
        if operator == "content-length-range":
            _check_length_range(condition, content_length)
            return "content-length-range"
        if (
            operator in ("eq", "starts-with")
            and isinstance(condition[1], str)
            and condition[1].startswith("$")
        ):
            return _check_match(operator, condition[1][1:].lower(), condition[2], form, condition)
    raise _invalid_policy(f"Invalid Policy: Invalid Condition: {json.dumps(condition)}")


def _check_match(operator: str, name: str, expected: Any, form: dict[str, str], shown: list) -> str:
    if not isinstance(expected, str):
        raise _invalid_policy(f"Invalid Policy: Invalid Condition: {json.dumps(shown)}")
    actual = form.get(name, "")
    matched = actual.startswith(expected) if operator == "starts-with" else actual == expected
    if not matched:
        raise AwsError(
            "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {json.dumps(shown)}", 403
        )
    return name


def _check_length_range(condition: list, content_length: int) -> None:
    _, minimum, maximum = condition
    if not isinstance(minimum, int) or not isinstance(maximum, int):
        raise _invalid_policy(f"Invalid Policy: Invalid Condition: {json.dumps(condition)}")
    if content_length < minimum:
        raise AwsError(
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
            400,
            fields={"ProposedSize": str(content_length), "MinSizeAllowed": str(minimum)},
        )
    if content_length > maximum:
        raise AwsError(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            400,
            fields={"ProposedSize": str(content_length), "MaxSizeAllowed": str(maximum)},
        )


def _needs_no_condition(name: str) -> bool:
    return name in _UNCONDITIONED or name.startswith(("x-ignore-", "x-amz-checksum-"))


def _lower_names(fields: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in fields.items()}


def _invalid_policy(message: str) -> AwsError:
    return AwsError("InvalidPolicyDocument", message, 400)
