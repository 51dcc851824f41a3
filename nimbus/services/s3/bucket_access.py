"""A bucket's access settings (policy, Block Public Access, object ownership, canned ACL) and the
resource policy the authorization step applies to requests on the bucket and its objects.

No row means AWS's defaults for a new bucket: no policy, Block Public Access on in all four
settings, ownership BucketOwnerEnforced (ACLs disabled), ACL private.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from nimbus.policy import Policy, PolicyError, parse_policy
from nimbus.policy.public import without_public_statements
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.keys import no_such_bucket
from nimbus.storage import Storage
from nimbus.storage.s3_access_schema import BucketAccessRecord
from nimbus.storage.schema import BucketRecord, ObjectRecord

ACCESS = BucketAccessRecord.__table__
BUCKETS = BucketRecord.__table__
OBJECTS = ObjectRecord.__table__
COLUMNS = [column.name for column in ACCESS.columns]
ENFORCED = "BucketOwnerEnforced"
BLOCK_SETTINGS = ("block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets")
# what a public canned bucket ACL grants, as statements (READ lists, WRITE writes and deletes objects)
_ACL_GRANTS = {
    "public-read": ("*", ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"], ""),
    "public-read-write": (
        "*",
        [
            "s3:ListBucket",
            "s3:ListBucketVersions",
            "s3:ListBucketMultipartUploads",
            "s3:PutObject",
            "s3:DeleteObject",
        ],
        "/*",
    ),
}

# what an object's public canned ACL grants everyone (READ on an object reads it, of any version)
_OBJECT_READERS = {
    acl: ["s3:GetObject", "s3:GetObjectVersion"] for acl in ("public-read", "public-read-write")
}


@dataclass(frozen=True)
class BucketAccess:
    bucket: str
    policy: str | None = None
    block_public_acls: bool | None = True
    ignore_public_acls: bool | None = True
    block_public_policy: bool | None = True
    restrict_public_buckets: bool | None = True
    object_ownership: str | None = ENFORCED
    acl: str | None = "private"
    abac: str | None = None  # PutBucketAbac's status: "Enabled" lets the bucket's tags decide access
    removes_owner_access: bool | None = None  # the policy was put with ConfirmRemoveSelfBucketAccess

    @property
    def has_block_configuration(self) -> bool:
        return any(getattr(self, name) is not None for name in BLOCK_SETTINGS)

    def blocks(self, setting: str) -> bool:
        return bool(getattr(self, setting))


def read_access(storage: Storage, bucket: str) -> BucketAccess | None:
    """The bucket's settings, or None when there is no such bucket."""
    with storage.database.engine.connect() as connection:
        row = connection.execute(
            select(BUCKETS.c.name.label("bucket_name"), ACCESS)
            .select_from(BUCKETS.outerjoin(ACCESS, ACCESS.c.bucket == BUCKETS.c.name))
            .where(BUCKETS.c.name == bucket)
        ).first()
    if row is None:
        return None
    if row.bucket is None:  # no settings yet: the defaults
        return BucketAccess(bucket)
    return BucketAccess(**{name: getattr(row, name) for name in COLUMNS})


def existing_access(ctx: RequestContext, bucket: str) -> BucketAccess:
    found = read_access(ctx.storage, bucket)
    if found is None:
        raise no_such_bucket(bucket)
    return found


def write_access(ctx: RequestContext, access: BucketAccess, **changes: Any) -> None:
    changed = replace(access, **changes)
    row = {name: getattr(changed, name) for name in COLUMNS}
    database = ctx.storage.database
    with database.engine.begin() as connection:
        connection.execute(database.upsert(ACCESS, row.keys(), ["bucket"]), row)


def owner_keeps_policy_access(storage: Storage, arn: str) -> bool:
    """Whether the account's root may read, replace and delete the policy of ``arn:aws:s3:::bucket``
    even where it denies it: always, unless the policy was put with ConfirmRemoveSelfBucketAccess."""
    access = read_access(storage, arn.removeprefix("arn:aws:s3:::").partition("/")[0])
    return access is None or not access.removes_owner_access


# by bucket, until a bucket-level setting changes: the bucket's policy, and whether its objects' public
# canned ACLs count (ACLs enabled and IgnorePublicAcls off)
_policies: dict[str, tuple[Policy | None, bool]] = {}


def bucket_resource_policy(storage: Storage, arn: str) -> Policy | None:
    """The policy that applies to ``arn:aws:s3:::bucket`` and ``arn:aws:s3:::bucket/key``: the bucket
    policy (less its public grants under RestrictPublicBuckets) and the grants of a public canned
    ACL of the bucket, and of the object (unless ACLs are disabled or IgnorePublicAcls is on)."""
    if not arn.startswith("arn:aws:s3:::"):
        return None
    bucket, _, key = arn[len("arn:aws:s3:::") :].partition("/")
    if bucket not in _policies:
        access = read_access(storage, bucket)
        if access is None:
            return None
        ignore_acls = access.object_ownership == ENFORCED or access.blocks("ignore_public_acls")
        restrict = access.blocks("restrict_public_buckets")
        policy = _effective(bucket, access.policy, restrict, None if ignore_acls else access.acl)
        _policies[bucket] = (policy, not ignore_acls)
    policy, object_acls = _policies[bucket]
    if not key or not object_acls:
        return policy
    with storage.database.engine.connect() as connection:
        acl = connection.scalar(select(OBJECTS.c.acl).where(OBJECTS.c.bucket == bucket, OBJECTS.c.key == key))
    if acl not in _OBJECT_READERS:
        return policy
    return Policy(
        policy.name if policy else f"ACL {acl} of {key}",
        policy.version if policy else "2012-10-17",
        (*(policy.statements if policy else ()), *_object_grant(arn, acl).statements),
    )


s3.resource_policies(bucket_resource_policy, _policies.clear)


@lru_cache(maxsize=1024)
def _object_grant(arn: str, acl: str) -> Policy:
    """What an object's public canned ACL grants: everyone may read it (READ to AllUsers)."""
    grant = {"Effect": "Allow", "Principal": "*", "Action": _OBJECT_READERS[acl], "Resource": arn}
    return parse_policy({"Version": "2012-10-17", "Statement": grant}, "resource", f"ACL {acl}")


@lru_cache(maxsize=1024)
def _effective(bucket: str, document: str | None, restrict_public: bool, acl: str | None) -> Policy | None:
    statements: list[Any] = []
    name = f"bucket policy of {bucket}"
    version = "2012-10-17"
    if document:
        try:
            policy = parse_policy(document, "resource", name)
        except PolicyError:  # it was checked when it was put
            policy = None
        if policy is not None:
            policy = without_public_statements(policy) if restrict_public else policy
            statements += policy.statements
            version = policy.version
    if acl in _ACL_GRANTS:
        principal, actions, suffix = _ACL_GRANTS[acl]
        resources = [f"arn:aws:s3:::{bucket}"] + ([f"arn:aws:s3:::{bucket}{suffix}"] if suffix else [])
        grant = {"Effect": "Allow", "Principal": principal, "Action": actions, "Resource": resources}
        statements += parse_policy(
            {"Version": "2012-10-17", "Statement": grant}, "resource", f"ACL {acl}"
        ).statements
    if not statements:
        return None
    return Policy(name, version, tuple(statements))
