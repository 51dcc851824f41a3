"""Block Public Access of a bucket: on in all four settings for a new bucket, as in AWS since 2023.
BlockPublicPolicy refuses public bucket policies, RestrictPublicBuckets makes a public policy's
grants count for no one, BlockPublicAcls refuses public canned ACLs, IgnorePublicAcls ignores them."""

from __future__ import annotations

from typing import Any

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.bucket_access import BLOCK_SETTINGS, existing_access, write_access

MEMBERS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@s3.operation
def put_public_access_block(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    access = existing_access(ctx, request["Bucket"])
    configuration = request["PublicAccessBlockConfiguration"]
    settings = {
        name: bool(configuration.get(member, False))
        for name, member in zip(BLOCK_SETTINGS, MEMBERS, strict=True)
    }
    write_access(ctx, access, **settings)
    return {}


@s3.operation
def get_public_access_block(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    access = existing_access(ctx, request["Bucket"])
    if not access.has_block_configuration:
        raise AwsError(
            "NoSuchPublicAccessBlockConfiguration",
            "The public access block configuration was not found",
            404,
            fields={"BucketName": request["Bucket"]},
        )
    return {
        "PublicAccessBlockConfiguration": {
            member: access.blocks(name) for name, member in zip(BLOCK_SETTINGS, MEMBERS, strict=True)
        }
    }


@s3.operation
def delete_public_access_block(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    access = existing_access(ctx, request["Bucket"])
    write_access(ctx, access, **dict.fromkeys(BLOCK_SETTINGS))
    return {}
