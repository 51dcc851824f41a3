"""Who a signed request comes from, and the policies that speak for them: an IAM user's own,
attached and group policies and its permissions boundary; a role session's role policies, boundary
and session policies; the root user's nothing (it needs none).

Resolving reads the database once per principal; the answer is kept until IAM changes (the
gateway calls ``invalidate`` after every IAM write) or a key changes in the credentials file.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from nimbus.policy import Policy, PolicyError, PolicySet, Principal, parse_policy
from nimbus.policy.patterns import Context
from nimbus.policy.principals import ROLE_SESSION, ROOT, USER
from nimbus.services.iam.holders import holder_attachments
from nimbus.services.iam.managed_policies import managed_document
from nimbus.services.iam.records import GROUPS, INLINE, MEMBERS, ROLES, USERS
from nimbus.storage import Storage
from nimbus.storage.credentials import Credential
from nimbus.storage.session_tokens import SessionClaims

CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Identity:
    """A principal, the policies that are theirs, and the condition keys that describe them."""

    principal: Principal
    policies: PolicySet
    context: Context = field(default_factory=dict)


def principal_context(
    principal: Principal, session: SessionClaims | None
) -> dict[str, str | tuple[str, ...]]:
    context: dict[str, str | tuple[str, ...]] = {
        "aws:principalarn": principal.role_arn or principal.arn,
        "aws:principalaccount": principal.account_id,
        "aws:principaltype": {ROOT: "Account", USER: "User", ROLE_SESSION: "AssumedRole"}[principal.kind],
        "aws:userid": principal.user_id,
        "aws:principalisawsservice": "false",
        "aws:multifactorauthpresent": "false",
    }
    if principal.kind == USER:
        context["aws:username"] = principal.name
    for key, value in principal.tags.items():
        context[f"aws:principaltag/{key.lower()}"] = value
    if session is not None:
        context["aws:tokenissuetime"] = datetime.fromtimestamp(session.issued_at, UTC).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        if session.source_identity:
            context["aws:sourceidentity"] = session.source_identity
    return context


class Identities:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], Identity] = OrderedDict()
        self._generation = 0
        self._file_version: object = None

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._cache.clear()

    def resolve(self, credential: Credential, session: SessionClaims | None, token: str = "") -> Identity:
        version = self._storage.credentials.version
        key = (credential.access_key_id, token)
        with self._lock:
            if version != self._file_version:
                self._cache.clear()
                self._file_version = version
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
            generation = self._generation
        identity = self._load(credential, session)
        with self._lock:
            if generation == self._generation and version == self._file_version:
                self._cache[key] = identity
                if len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return identity

    def _load(self, credential: Credential, session: SessionClaims | None) -> Identity:
        account = credential.account_id
        if session is not None and session.role_arn:
            return self._role_session(account, session)
        if credential.is_root or (session is not None and not session.user_name):
            principal = Principal(ROOT, account, f"arn:aws:iam::{account}:root", account)
            return Identity(principal, PolicySet(), principal_context(principal, session))
        name = session.user_name if session is not None else credential.user_name
        with self._storage.database.engine.connect() as connection:
            user = connection.execute(
                select(USERS).where(USERS.c.account_id == account, USERS.c.name_key == name.lower())
            ).first()
            principal = Principal(
                USER, account, credential.arn, credential.user_id, name, tags=_tags(user.tags if user else [])
            )
            if user is None:  # a key from before IAM users existed: it holds no policy
                return Identity(principal, PolicySet(), principal_context(principal, session))
            policies = self._policies_of(connection, account, "user", user.name_key)
            boundary = self._managed(connection, account, user.permissions_boundary)
        return Identity(
            principal, PolicySet(tuple(policies), boundary), principal_context(principal, session)
        )

    def source(self, account: str, arn: str) -> Identity | None:
        """The identity of a user, group or role by ARN, as IAM's SimulatePrincipalPolicy takes it
        (a role stands as a session of itself without session policies); None if there is none."""
        kind, _, rest = arn.split(":", 5)[-1].partition("/")
        name = rest.rsplit("/", 1)[-1]
        table = {"user": USERS, "group": GROUPS, "role": ROLES}.get(kind)
        if table is None or not arn.startswith(f"arn:aws:iam::{account}:"):
            return None
        with self._storage.database.engine.connect() as connection:
            row = connection.execute(
                select(table).where(table.c.account_id == account, table.c.name_key == name.lower())
            ).first()
            if row is None:
                return None
            policies = self._policies_of(connection, account, kind, row.name_key)
            boundary = self._managed(connection, account, getattr(row, "permissions_boundary", None))
        tags = _tags(getattr(row, "tags", []))
        if kind == "role":
            principal = Principal(ROLE_SESSION, account, arn, row.role_id, row.name, arn, tags)
        else:
            principal = Principal(USER, account, arn, getattr(row, "user_id", ""), row.name, tags=tags)
        return Identity(principal, PolicySet(tuple(policies), boundary), principal_context(principal, None))

    def _role_session(self, account: str, session: SessionClaims) -> Identity:
        role_name = session.role_arn.rsplit("/", 1)[-1]
        with self._storage.database.engine.connect() as connection:
            role = connection.execute(
                select(ROLES).where(ROLES.c.account_id == account, ROLES.c.name_key == role_name.lower())
            ).first()
            tags = {**_tags(role.tags if role else []), **session.tags}
            principal = Principal(
                ROLE_SESSION, account, session.arn, session.user_id, role_name, session.role_arn, tags
            )
            if role is None:  # the role was deleted: its sessions hold no policy any more
                return Identity(principal, PolicySet(), principal_context(principal, session))
            policies = self._policies_of(connection, account, "role", role.name_key)
            boundary = self._managed(connection, account, role.permissions_boundary)
            session_policies = [self._managed(connection, account, arn) for arn in session.policy_arns]
        if session.policy:
            session_policies.append(_parsed(session.policy, "session policy"))
        limits = tuple(p for p in session_policies if p is not None)
        policy_set = PolicySet(
            tuple(policies), boundary, limits if session.policy or session.policy_arns else None
        )
        return Identity(principal, policy_set, principal_context(principal, session))

    def _policies_of(self, connection: Connection, account: str, kind: str, key: str) -> list[Policy]:
        """A user's, group's or role's own policies; a user's groups' policies with its own."""
        policies = self._holder_policies(connection, account, kind, key)
        if kind == "user":
            groups = connection.execute(
                select(MEMBERS.c.group_key).where(MEMBERS.c.account_id == account, MEMBERS.c.user_key == key)
            ).scalars()
            for group in groups:
                policies += self._holder_policies(connection, account, "group", group)
        return policies

    def _holder_policies(self, connection: Connection, account: str, kind: str, key: str) -> list[Policy]:
        inline = connection.execute(
            select(INLINE.c.name, INLINE.c.document).where(
                INLINE.c.account_id == account, INLINE.c.holder_kind == kind, INLINE.c.holder_key == key
            )
        ).all()
        found = [_parsed(row.document, f"{kind} {key} inline policy {row.name}") for row in inline]
        for arn in holder_attachments(connection, account, kind, key):
            found.append(self._managed(connection, account, arn))
        return [policy for policy in found if policy is not None]

    def _managed(self, connection: Connection, account: str, arn: str | None) -> Policy | None:
        document = managed_document(connection, account, arn) if arn else None
        return _parsed(document, arn or "") if document is not None else None


def _parsed(document: str, name: str) -> Policy | None:
    try:
        return parse_policy(document, "identity", name)
    except PolicyError:  # stored documents were checked when they were put
        return None


def _tags(tags: list[Any] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(tags, Mapping):
        return dict(tags)
    return {tag["Key"]: tag["Value"] for tag in tags}
