"""Bucket policies: Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus. The authorization step
applies the policy to every request on the bucket and its objects, signed or anonymous."""

from __future__ import annotations

from typing import Any

from nimbus.errors import AwsError
from nimbus.policy import PolicyError, parse_policy
from nimbus.policy.public import is_public
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.bucket_access import existing_access, write_access

MAX_POLICY_BYTES = 20 * 1024


@s3.operation
def put_bucket_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A policy must name principals and resources of this bucket; a public one is refused while
    BlockPublicPolicy is on (as on a new bucket). The account's root keeps access to the policy
    whatever it says, as in AWS, unless it is put with ConfirmRemoveSelfBucketAccess."""
    bucket = request["Bucket"]
    access = existing_access(ctx, bucket)
    document = request["Policy"]
    if len(document.encode()) > MAX_POLICY_BYTES:
        raise AwsError(
            "PolicyTooLarge", f"Policy exceeds the maximum allowed document size of {MAX_POLICY_BYTES} bytes."
        )
    try:
        policy = parse_policy(document, "resource", f"bucket policy of {bucket}")
    except PolicyError as error:
        raise AwsError("MalformedPolicy", str(error), 400) from None
    for statement in policy.statements:
        for resource in statement.resources or statement.not_resources or ():
            if resource != "*" and not resource.startswith((f"arn:aws:s3:::{bucket}", "arn:aws:s3:::*")):
                raise AwsError("MalformedPolicy", "Policy has invalid resource", 400)
    if access.blocks("block_public_policy") and is_public(policy):
        raise AwsError(
            "AccessDenied",
            f"User: {ctx.caller.arn} is not authorized to perform: s3:PutBucketPolicy on resource: "
            f'"arn:aws:s3:::{bucket}" because public policies are blocked by the BlockPublicPolicy '
            "block public access setting.",
            403,
        )
    confirmed = bool(request.get("ConfirmRemoveSelfBucketAccess"))
    write_access(ctx, access, policy=document, removes_owner_access=confirmed)
    return {}


def _stored_policy(ctx: RequestContext, bucket: str) -> str:
    access = existing_access(ctx, bucket)
    if access.policy is None:
        raise AwsError(
            "NoSuchBucketPolicy", "The bucket policy does not exist", 404, fields={"BucketName": bucket}
        )
    return access.policy


@s3.operation
def get_bucket_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"Policy": _stored_policy(ctx, request["Bucket"])}


@s3.operation
def delete_bucket_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    access = existing_access(ctx, request["Bucket"])
    write_access(ctx, access, policy=None, removes_owner_access=None)
    return {}


@s3.operation
def get_bucket_policy_status(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    policy = parse_policy(_stored_policy(ctx, request["Bucket"]), "resource")
    return {"PolicyStatus": {"IsPublic": is_public(policy)}}
