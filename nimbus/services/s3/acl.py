"""Object ownership and the ACLs S3 still uses: a bucket is BucketOwnerEnforced (ACLs disabled)
unless its ownership controls say otherwise; then a canned bucket ACL (private, public-read,
public-read-write, authenticated-read) applies, within Block Public Access. Object ACLs and grant
lists are not modelled: with ACLs enabled, PutObjectAcl and explicit grants are NotImplemented."""

from __future__ import annotations

from typing import Any

from nimbus.errors import AwsError, not_implemented
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.bucket_access import ENFORCED, existing_access, write_access
from nimbus.services.s3.owners import owner

PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
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


@s3.operation
def put_bucket_ownership_controls(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    access = existing_access(ctx, request["Bucket"])
    rules = request["OwnershipControls"].get("Rules") or []
    if len(rules) != 1:
        raise AwsError("MalformedXML", "OwnershipControls must hold exactly one rule.", 400)
    ownership = rules[0]["ObjectOwnership"]
    if ownership == ENFORCED and access.acl not in (None, "private"):
        raise AwsError(
            "InvalidBucketAclWithObjectOwnership",
            "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting",
            400,
        )
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
        raise AwsError(
            "AccessDenied", "Access Denied: public ACLs are blocked by the BlockPublicAcls setting.", 403
        )
    write_access(ctx, access, acl=acl)
    return {}


@s3.operation
def get_bucket_acl(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    access = existing_access(ctx, request["Bucket"])
    me = owner(ctx)
    grants: list[dict[str, Any]] = [
        {"Grantee": {**me, "Type": "CanonicalUser"}, "Permission": "FULL_CONTROL"}
    ]
    for uri, permission in _GRANTS.get(access.acl or "private", []):
        grants.append({"Grantee": {"URI": uri, "Type": "Group"}, "Permission": permission})
    return {"Owner": me, "Grants": grants}
