"""Labelled statements in a resource policy document, as SNS's and SQS's AddPermission and
RemovePermission write them: a statement whose Sid is the label."""

from __future__ import annotations

import json
import re
from typing import Any

LABEL = re.compile(r"[A-Za-z0-9_-]{1,80}")  # a permission's label, as both services take it
ACCOUNT_ID = re.compile(r"\d{12}")


def permission(
    label: str, accounts: list[str], actions: list[str], prefix: str, resource: str
) -> dict[str, Any]:
    """The statement AddPermission writes: the accounts (their root principals) may do the actions."""
    return {
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": [f"arn:aws:iam::{account}:root" for account in accounts]},
        "Action": [f"{prefix}:{action}" for action in actions],
        "Resource": resource,
    }


def with_statement(document: str, statement: dict[str, Any]) -> str | None:
    """``document`` with ``statement`` appended; None if a statement already has its Sid."""
    policy = json.loads(document)
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    if any(existing.get("Sid") == statement["Sid"] for existing in statements):
        return None
    return json.dumps({**policy, "Statement": [*statements, statement]}, separators=(",", ":"))


def without_statement(document: str, sid: str) -> str | None:
    """``document`` less the statement labelled ``sid`` ("" when none is left); None if it has none."""
    policy = json.loads(document)
    statements = policy.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    kept = [statement for statement in statements if statement.get("Sid") != sid]
    if len(kept) == len(statements):
        return None
    return json.dumps({**policy, "Statement": kept}, separators=(",", ":")) if kept else ""
