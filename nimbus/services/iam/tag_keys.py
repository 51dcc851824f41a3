"""The tags of users, roles, customer managed policies, instance profiles and OpenID Connect providers
as the condition keys the authorization step reads for IAM's actions on them and for sts:AssumeRole
on a role: ``aws:ResourceTag/*``, and ``iam:ResourceTag/*`` for users and roles as the reference
lists it."""

from __future__ import annotations

from sqlalchemy import Table, select

from nimbus.services.iam import iam
from nimbus.services.resource_tags import tag_condition_keys
from nimbus.services.sts import sts
from nimbus.storage import Storage
from nimbus.storage.iam_schema import (
    IamInstanceProfileRecord,
    IamManagedPolicyRecord,
    IamOidcProviderRecord,
    IamRoleRecord,
    IamUserRecord,
)

# an ARN's resource type -> the table of such entities and the families of keys their tags fill
_TAGGED: dict[str, tuple[Table, tuple[str, ...]]] = {
    "user": (IamUserRecord.__table__, ("aws:resourcetag/", "iam:resourcetag/")),
    "role": (IamRoleRecord.__table__, ("aws:resourcetag/", "iam:resourcetag/")),
    "policy": (IamManagedPolicyRecord.__table__, ("aws:resourcetag/",)),
    "instance-profile": (IamInstanceProfileRecord.__table__, ("aws:resourcetag/",)),
    "oidc-provider": (IamOidcProviderRecord.__table__, ("aws:resourcetag/",)),
}


def entity_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
    """Of ``arn:aws:iam::<account>:<type>/<path><name>`` (names are unique regardless of case), or
    ``...:oidc-provider/<host><path>`` (the whole URL is the provider's name)."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam":
        return {}
    kind, _, path_and_name = parts[5].partition("/")
    if kind not in _TAGGED:
        return {}
    table, families = _TAGGED[kind]
    name_key = path_and_name if kind == "oidc-provider" else path_and_name.rsplit("/", 1)[-1].lower()
    query = select(table.c.tags).where(table.c.account_id == parts[4], table.c.name_key == name_key)
    with storage.database.engine.connect() as connection:
        return tag_condition_keys(connection.scalar(query), *families)


iam.resource_tags(entity_tag_keys)
sts.resource_tags(entity_tag_keys)  # sts:AssumeRole and sts:TagSession act on a role
