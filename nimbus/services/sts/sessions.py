"""Issuing temporary credentials: for STS's operations, and for the jobs that run as their
execution role (SageMaker, EMR), which Nimbus starts as the role's service would."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from nimbus.policy import Policy, PolicyError, parse_policy
from nimbus.services.iam.records import ROLES
from nimbus.storage import Storage
from nimbus.storage.session_tokens import SessionClaims


@dataclass(frozen=True)
class TemporaryCredentials:
    claims: SessionClaims
    secret_access_key: str
    session_token: str

    def output(self) -> dict[str, Any]:
        return {
            "AccessKeyId": self.claims.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.claims.expiration,
        }


def role_arn_parts(arn: str) -> tuple[str, str] | None:
    """(account, role name) of ``arn:aws:iam::111122223333:role/path/name``."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "iam"] or not parts[5].startswith("role/"):
        return None
    return parts[4], parts[5].rsplit("/", 1)[-1]


def find_role(storage: Storage, arn: str) -> Any:
    """The role row an ARN names (its path included), or None."""
    parts = role_arn_parts(arn)
    if parts is None:
        return None
    account, name = parts
    with storage.database.engine.connect() as connection:
        row = connection.execute(
            select(ROLES).where(ROLES.c.account_id == account, ROLES.c.name_key == name.lower())
        ).first()
    if row is None or f"arn:aws:iam::{account}:role{row.path}{row.name}" != arn:
        return None
    return row


def issue(storage: Storage, claims: SessionClaims) -> TemporaryCredentials:
    return TemporaryCredentials(
        claims, storage.sessions.secret_for(claims.access_key_id), storage.sessions.issue(claims)
    )


def role_session(
    storage: Storage,
    role: Any,
    session_name: str,
    duration_s: int,
    *,
    policy: str | None = None,
    policy_arns: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    source_identity: str = "",
) -> TemporaryCredentials:
    now = int(datetime.now(UTC).timestamp())
    return issue(
        storage,
        SessionClaims(
            access_key_id=storage.sessions.new_access_key_id(),
            account_id=role.account_id,
            arn=f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session_name}",
            user_id=f"{role.role_id}:{session_name}",
            issued_at=now,
            expires_at=now + duration_s,
            role_arn=f"arn:aws:iam::{role.account_id}:role{role.path}{role.name}",
            session_name=session_name,
            policy=policy,
            policy_arns=tuple(policy_arns),
            tags=dict(tags or {}),
            source_identity=source_identity,
        ),
    )


def trusts(role: Any, service_principal: str) -> bool:
    """Whether the role's trust policy lets a service (``sagemaker.amazonaws.com``) assume it."""
    try:
        trust = parse_policy(role.assume_role_policy, "trust")
    except PolicyError:
        return False
    return any(
        statement.effect == "Allow"
        and statement.principals is not None
        and (service_principal in statement.principals.get("Service", ()) or "*" in statement.principals)
        for statement in trust.statements
    )


def trust_policy(storage: Storage, arn: str) -> Policy | None:
    """The resource policy of sts:AssumeRole: the trust policy of the role the ARN names."""
    role = find_role(storage, arn)
    if role is None:
        return None
    try:
        return parse_policy(role.assume_role_policy, "trust", f"trust policy of role {role.name}")
    except PolicyError:
        return None
