"""Object ownership and the ACLs S3 still uses: a bucket is BucketOwnerEnforced (ACLs disabled)
unless its ownership controls say otherwise. Then canned ACLs apply, within Block Public Access:
a bucket's (PutBucketAcl), and an object's, given when it is written (x-amz-acl on PutObject,
CopyObject, CreateMultipartUpload) or later (PutObjectAcl). With ACLs disabled S3 takes no ACL but
bucket-owner-full-control and answers AccessControlListNotSupported. Explicit grant lists are not
modelled: where ACLs are enabled they are NotImplemented."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from nimbus.errors import AwsError, not_implemented
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.bucket_access import ENFORCED, existing_access, write_access
from nimbus.services.s3.owners import owner
from nimbus.services.s3.records import find_object
from nimbus.services.s3.versions import OBJECTS, VERSIONS

PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
OWNER_FULL_CONTROL = "bucket-owner-full-control"  # the one ACL a bucket with ACLs disabled accepts
_OBJECT_GRANT_MEMBERS = ("GrantFullControl", "GrantRead", "GrantReadACP", "GrantWriteACP")
_GRANTS = {
    "public-read": [("http://acs.amazonaws.com/groups/global/AllUsers", "READ")],
    "public-read-write": [
        ("http://acs.amazonaws.com/groups/global/AllUsers", "READ"),
        ("http://acs.amazonaws.com/groups/global/AllUsers", "WRITE"),
    ],
    "authenticated-read": [("http://acs.amazonaws.com/groups/global/AuthenticatedUsers", "READ")],
}


def acls_disabled() -> AwsError:
    return AwsError("AccessControlListNotSupported", "The bucket does not allow ACLs", 400)


def _public_acls_blocked() -> AwsError:
    return AwsError(
        "AccessDenied", "Access Denied: public ACLs are blocked by the BlockPublicAcls setting.", 403
    )


def object_acl(ctx: RequestContext, bucket: str, request: dict[str, Any]) -> str | None:
    """The canned ACL a write gives its object (None: the owner's alone), refused as S3 refuses it:
    AccessControlListNotSupported where ACLs are disabled, AccessDenied for a public ACL under
    BlockPublicAcls."""
    acl = request.get("ACL")
    granted = any(request.get(member) for member in _OBJECT_GRANT_MEMBERS)
    if not acl and not granted:
        return None
    access = existing_access(ctx, bucket)
    if access.object_ownership == ENFORCED:
        if granted or acl != OWNER_FULL_CONTROL:
            raise acls_disabled()
        return None
    if granted:
        raise not_implemented("s3", "object ACLs with explicit grants")
    if acl in PUBLIC_ACLS and access.blocks("block_public_acls"):
        raise _public_acls_blocked()
    return None if acl == "private" else acl


def creation_access(request: dict[str, Any]) -> dict[str, str]:
    """The access settings CreateBucket's ``x-amz-object-ownership`` and canned ACL give the new
    bucket (Block Public Access is on for it), refused as S3 refuses them before anything is made."""
    ownership = request.get("ObjectOwnership") or ENFORCED
    acl = request.get("ACL") or "private"
    granted = any(request.get(member) for member in (*_OBJECT_GRANT_MEMBERS, "GrantWrite"))
    if ownership == ENFORCED and (granted or acl != "private"):
        raise _acl_with_enforced_ownership()
    if granted:
        raise not_implemented("s3", "CreateBucket with explicit grants")
    if acl in PUBLIC_ACLS:
        raise _public_acls_blocked()
    return {"object_ownership": ownership} if ownership != ENFORCED else {}


def _acl_with_enforced_ownership() -> AwsError:
    return AwsError(
        "InvalidBucketAclWithObjectOwnership",
        "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
        400,
    )


@s3.operation
def put_bucket_ownership_controls(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    access = existing_access(ctx, request["Bucket"])
    rules = request["OwnershipControls"].get("Rules") or []
    if len(rules) != 1:
        raise AwsError("MalformedXML", "OwnershipControls must hold exactly one rule.", 400)
    ownership = rules[0]["ObjectOwnership"]
    if ownership == ENFORCED and access.acl not in (None, "private"):
        raise _acl_with_enforced_ownership()
    write_access(ctx, access, object_ownership=ownership)
    return {}


@s3.operation
def get_bucket_ownership_controls(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    access = existing_access(ctx, request["Bucket"])
    if access.object_ownership is None:
        raise AwsError(
            "OwnershipControlsNotFoundError",
            "The bucket ownership controls were not found",
            404,
            fields={"BucketName": request["Bucket"]},
        )
    return {"OwnershipControls": {"Rules": [{"ObjectOwnership": access.object_ownership}]}}


@s3.operation
def delete_bucket_ownership_controls(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Without ownership controls a bucket behaves as ObjectWriter (ACLs enabled), as in AWS."""
    access = existing_access(ctx, request["Bucket"])
    write_access(ctx, access, object_ownership=None)
    return {}


@s3.operation
def put_bucket_acl(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Canned ACLs only (the ACL member / x-amz-acl); explicit grants are NotImplemented."""
    access = existing_access(ctx, request["Bucket"])
    if any(
        request.get(member)
        for member in ("AccessControlPolicy", "GrantFullControl", "GrantRead", "GrantWrite")
    ):
        raise not_implemented("s3", "PutBucketAcl with explicit grants")
    acl = request.get("ACL") or "private"
    if access.object_ownership == ENFORCED and acl != "private":
        raise acls_disabled()
    if acl in PUBLIC_ACLS and access.blocks("block_public_acls"):
        raise _public_acls_blocked()
    write_access(ctx, access, acl=acl)
    return {}


@s3.operation
def get_bucket_acl(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _access_control_policy(ctx, existing_access(ctx, request["Bucket"]).acl)


@s3.operation
def put_object_acl(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Canned ACLs only: explicit grants (x-amz-grant-*, AccessControlPolicy) are NotImplemented where
    the bucket allows ACLs."""
    if request.get("AccessControlPolicy") or request.get("GrantWrite"):
        if existing_access(ctx, request["Bucket"]).object_ownership == ENFORCED:
            raise acls_disabled()
        raise not_implemented("s3", "PutObjectAcl with explicit grants")
    acl = object_acl(ctx, request["Bucket"], {**request, "ACL": request.get("ACL") or "private"})
    record = find_object(ctx, request["Bucket"], request["Key"], request.get("VersionId"))
    table = OBJECTS if record.is_current else VERSIONS
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(
            update(table)
            .where(
                table.c.bucket == record.bucket,
                table.c.key == record.key,
                table.c.version_id == record.version_id,
            )
            .values(acl=acl)
        )
    return {}


@s3.operation
def get_object_acl(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    # read whatever the ownership setting, as in S3: the owner's full control, and the canned ACL's grants
    record = find_object(ctx, request["Bucket"], request["Key"], request.get("VersionId"))
    return _access_control_policy(ctx, record.acl)


def _access_control_policy(ctx: RequestContext, acl: str | None) -> dict[str, Any]:
    me = owner(ctx)
    grants: list[dict[str, Any]] = [
        {"Grantee": {**me, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}
    ]
    for uri, permission in _GRANTS.get(acl or "private", []):
        grants.append({"Grantee": {"URI": uri, "Type": "Group"}, "Permission": permission})
    return {"Owner": me, "Grants": grants}
