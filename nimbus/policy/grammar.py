"""Policy documents: IAM's JSON grammar read into statements, or a ``PolicyError`` that says what is
wrong (the message IAM's MalformedPolicyDocument or S3's MalformedPolicy carries)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nimbus.policy.conditions import OPERATORS, split_operator

VERSIONS = ("2012-10-17", "2008-10-17")
CURRENT_VERSION = "2012-10-17"  # the only version whose ${...} are policy variables
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_STATEMENT_FIELDS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
MAX_POLICY_CHARS = {"identity": 6144, "managed": 6144, "trust": 2048, "boundary": 6144, "session": 2048}


class PolicyError(ValueError):
    """A document that is not a valid policy of the kind asked for."""


@dataclass(frozen=True)
class Condition:
    operator: str  # as written: "ForAnyValue:StringLikeIfExists"
    key: str  # lower case: context keys are case-insensitive
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    sid: str | None
    index: int  # position in the policy, to name the statement when it has no Sid
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None  # None when the statement has neither (trust policies)
    not_resources: tuple[str, ...] | None
    principals: Mapping[str, tuple[str, ...]] | None  # {"AWS": (...), "Service": (...)}; "*" is {"*": ("*",)}
    not_principals: Mapping[str, tuple[str, ...]] | None
    conditions: tuple[Condition, ...]

    @property
    def label(self) -> str:
        return self.sid or f"statement {self.index + 1}"


@dataclass(frozen=True)
class Policy:
    """A parsed policy. ``name`` says where it came from (for logs and Simulate answers)."""

    name: str
    version: str
    statements: tuple[Statement, ...]

    @property
    def variables(self) -> bool:
        return self.version == CURRENT_VERSION


def parse_policy(document: str | Mapping[str, Any], kind: str, name: str = "") -> Policy:
    """``kind``: "identity" (user, group, role, managed, boundary and session policies: they name
    resources, never principals), "resource" (bucket policies: principals and resources) or "trust"
    (a role's trust policy: principals, no resources needed)."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise PolicyError("This policy contains invalid Json") from None
    if not isinstance(document, Mapping):
        raise PolicyError("Syntax errors in policy: a policy is a JSON object.")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyError(f"Syntax errors in policy: unknown element {sorted(unknown)[0]}.")
    version = document.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f"The policy version {version!r} is not supported; use {CURRENT_VERSION}.")
    found = document.get("Statement")
    listed = [found] if isinstance(found, Mapping) else found
    if not isinstance(listed, list) or not listed:
        raise PolicyError("Syntax errors in policy: Statement must be an object or a non-empty list.")
    statements = tuple(_statement(item, index, kind) for index, item in enumerate(listed))
    return Policy(name=name, version=version, statements=statements)


def _statement(raw: Any, index: int, kind: str) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError("Syntax errors in policy: each statement is a JSON object.")
    unknown = set(raw) - _STATEMENT_FIELDS
    if unknown:
        raise PolicyError(f"Syntax errors in policy: unknown statement element {sorted(unknown)[0]}.")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError("Invalid effect: the Effect of each statement must be Allow or Deny.")
    actions, not_actions = _pair(raw, "Action", "NotAction", "actions")
    if kind == "identity":
        if "Principal" in raw or "NotPrincipal" in raw:
            raise PolicyError("Policy document should not specify a principal.")
        resources, not_resources = _pair(raw, "Resource", "NotResource", "resources")
    else:
        if "Principal" not in raw and "NotPrincipal" not in raw:
            raise PolicyError("Policy statement must contain a principal (Principal or NotPrincipal).")
        if kind == "resource" or "Resource" in raw or "NotResource" in raw:
            resources, not_resources = _pair(raw, "Resource", "NotResource", "resources")
        else:
            resources, not_resources = None, None
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError("Syntax errors in policy: Sid must be a string.")
    return Statement(
        effect=effect,
        sid=sid,
        index=index,
        actions=actions,
        not_actions=not_actions,
        resources=resources,
        not_resources=not_resources,
        principals=_principals(raw["Principal"]) if "Principal" in raw else None,
        not_principals=_principals(raw["NotPrincipal"]) if "NotPrincipal" in raw else None,
        conditions=_conditions(raw.get("Condition", {})),
    )


def _pair(
    raw: Mapping[str, Any], name: str, negated: str, noun: str
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    if (name in raw) == (negated in raw):
        raise PolicyError(f"Policy statement must contain {noun}: exactly one of {name} or {negated}.")
    values = _strings(raw.get(name, raw.get(negated)), name if name in raw else negated)
    if name == "Action":
        for action in values:
            if action != "*" and ":" not in action:
                raise PolicyError(
                    f"Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.: {action}"
                )
    return (values, None) if name in raw else (None, values)


def _strings(value: Any, element: str) -> tuple[str, ...]:
    listed = [value] if isinstance(value, str) else value
    if not isinstance(listed, list) or not listed or not all(isinstance(item, str) for item in listed):
        raise PolicyError(f"Syntax errors in policy: {element} must be a string or a list of strings.")
    return tuple(listed)


def _principals(value: Any) -> Mapping[str, tuple[str, ...]]:
    if value == "*":
        return {"*": ("*",)}
    if not isinstance(value, Mapping) or not value:
        raise PolicyError('Invalid principal in policy: use "*" or an object such as {"AWS": "arn:..."}.')
    found: dict[str, tuple[str, ...]] = {}
    for kind, names in value.items():
        if kind not in PRINCIPAL_TYPES:
            raise PolicyError(f"Invalid principal in policy: unknown principal type {kind!r}.")
        found[kind] = _strings(names, f"Principal {kind}")
    return found


def _conditions(block: Any) -> tuple[Condition, ...]:
    if not isinstance(block, Mapping):
        raise PolicyError("Syntax errors in policy: Condition must be an object.")
    found: list[Condition] = []
    for operator, entries in block.items():
        _, base, _ = split_operator(operator)
        if base not in OPERATORS:
            raise PolicyError(f"Invalid Condition type : {operator}.")
        if not isinstance(entries, Mapping) or not entries:
            raise PolicyError(f"Syntax errors in policy: condition {operator} must map keys to values.")
        for key, values in entries.items():
            listed = values if isinstance(values, list) else [values]
            if not all(isinstance(item, str | int | float | bool) for item in listed):
                raise PolicyError(f"Syntax errors in policy: condition values of {key} must be scalars.")
            found.append(Condition(operator, key.lower(), tuple(_text(item) for item in listed)))
    return tuple(found)


def _text(value: str | int | float | bool) -> str:
    """IAM compares condition values as text: ``true`` and ``5`` are "true" and "5"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def check_size(document: str, kind: str) -> None:
    limit = MAX_POLICY_CHARS[kind]
    if len("".join(document.split())) > limit:
        raise PolicyError(f"Cannot exceed quota for {kind} policy size: {limit} characters.")
