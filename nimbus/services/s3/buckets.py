"""Buckets: create, delete, head, list, locate. A bucket is a row plus a folder of the same name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.acl import creation_access
from nimbus.services.s3.bucket_access import BucketAccess, write_access
from nimbus.services.s3.keys import check_bucket_name, no_such_bucket
from nimbus.services.s3.owners import owner
from nimbus.services.s3.paging import decode_token, encode_token
from nimbus.storage.schema import BucketRecord, ObjectRecord, UploadRecord, VersionRecord

US_EAST_1 = "us-east-1"
# S3's legacy region names, which older clients sign with (s3cmd's default "US") or send as a constraint
LEGACY_REGIONS = {"US": US_EAST_1, "EU": "eu-west-1"}
MAX_BUCKETS_PAGE = 10_000


def _find_bucket(ctx: RequestContext, name: str) -> BucketRecord:
    with ctx.storage.database.session() as session:
        record = session.get(BucketRecord, name)
    if record is None:
        raise no_such_bucket(name)
    return record


def bucket_setting(ctx: RequestContext, name: str, column: str) -> Any:
    """One of the bucket's settings (versioning, cors_rules, lifecycle_rules, tags); NoSuchBucket."""
    return getattr(_find_bucket(ctx, name), column)


def configured_setting(ctx: RequestContext, name: str, column: str, code: str, what: str) -> Any:
    """A setting the bucket must have: ``code`` (404, "The <what> does not exist") when it has none."""
    value = bucket_setting(ctx, name, column)
    if value is None:
        raise AwsError(code, f"The {what} does not exist", 404, fields={"BucketName": name})
    return value


def set_bucket_setting(ctx: RequestContext, name: str, column: str, value: Any) -> None:
    with ctx.storage.database.session() as session:
        changed = session.execute(
            update(BucketRecord).where(BucketRecord.name == name).values({column: value})
        ).rowcount  # type: ignore[attr-defined]
        session.commit()
    if not changed:
        raise no_such_bucket(name)


def _requested_region(ctx: RequestContext, request: dict[str, Any]) -> str:
    """The bucket's region, checked against the endpoint's region as AWS does."""
    constraint = (request.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
    endpoint_region = LEGACY_REGIONS.get(ctx.region, ctx.region)
    if constraint == US_EAST_1:
        raise AwsError(
            "InvalidLocationConstraint",
            "The specified location-constraint is not valid",
            400,
            fields={"LocationConstraint": constraint},
        )
    constraint = LEGACY_REGIONS.get(constraint or "", constraint)
    if (constraint or US_EAST_1) != endpoint_region and endpoint_region != US_EAST_1:
        raise AwsError(
            "IllegalLocationConstraintException",
            f"The {constraint or 'unspecified'} location constraint is incompatible for the region "
            "specific endpoint this request was sent to.",
            400,
        )
    return constraint or US_EAST_1


def _recreated_in_us_east_1(ctx: RequestContext, existing: BucketRecord, region: str) -> bool:
    """As S3 in us-east-1 (for compatibility): creating a bucket you already own there succeeds again."""
    return existing.owner_account_id == ctx.caller.account_id and existing.region == region == US_EAST_1


def _already_exists(ctx: RequestContext, existing: BucketRecord) -> AwsError:
    if existing.owner_account_id == ctx.caller.account_id:
        return AwsError(
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
            409,
            fields={"BucketName": existing.name},
        )
    return AwsError(
        "BucketAlreadyExists",
        "The requested bucket name is not available. The bucket namespace is shared by all users of "
        "the system. Please select a different name and try again.",
        409,
        fields={"BucketName": existing.name},
    )


@s3.operation
def create_bucket(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Explicit ACL grants (x-amz-grant-*) are NotImplemented where the ownership allows ACLs."""
    name = request["Bucket"]
    check_bucket_name(name)
    region = _requested_region(ctx, request)
    access = creation_access(request)
    record = BucketRecord(
        name=name, owner_account_id=ctx.caller.account_id, region=region, created_at=datetime.now(UTC)
    )
    with ctx.storage.database.session() as session:
        existing = session.get(BucketRecord, name)
        if existing is not None and _recreated_in_us_east_1(ctx, existing, region):
            return {"Location": f"/{name}"}
        if existing is not None:
            raise _already_exists(ctx, existing)
        # the folder first: a bucket whose row exists always has its folder
        ctx.storage.objects.create_bucket(name)
        session.add(record)
        try:
            session.commit()
        except IntegrityError:  # created by a concurrent request
            session.rollback()
            raise _already_exists(ctx, _find_bucket(ctx, name)) from None
    if access:
        write_access(ctx, BucketAccess(name), **access)
    return {"Location": f"/{name}"}


@s3.operation
def delete_bucket(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    name = request["Bucket"]
    with ctx.storage.database.session() as session:
        if session.get(BucketRecord, name) is None:
            raise no_such_bucket(name)
        for table in (ObjectRecord, VersionRecord):  # older versions and delete markers count too
            if session.scalar(select(exists().where(table.bucket == name))):
                raise _not_empty(name)
        uploads = session.scalars(select(UploadRecord).where(UploadRecord.bucket == name)).all()
        for upload in uploads:  # unfinished uploads go with the bucket (their parts cascade)
            session.delete(upload)
        session.delete(session.get(BucketRecord, name))
        try:
            session.commit()
        except IntegrityError:  # an object landed meanwhile
            raise _not_empty(name) from None
    for upload in uploads:
        ctx.storage.objects.discard_upload(upload.upload_id)
    ctx.storage.objects.delete_bucket(name)
    return {}


def _not_empty(name: str) -> AwsError:
    return AwsError(
        "BucketNotEmpty", "The bucket you tried to delete is not empty", 409, fields={"BucketName": name}
    )


@s3.operation
def head_bucket(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"BucketRegion": _find_bucket(ctx, request["Bucket"]).region}


@s3.operation
def get_bucket_location(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    region = _find_bucket(ctx, request["Bucket"]).region
    return {"LocationConstraint": None if region == US_EAST_1 else region}


@s3.operation
def list_buckets(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    limit = request.get("MaxBuckets", MAX_BUCKETS_PAGE)
    if not 1 <= limit <= MAX_BUCKETS_PAGE:
        raise AwsError("InvalidArgument", f"MaxBuckets must be between 1 and {MAX_BUCKETS_PAGE}", 400)
    prefix = request.get("Prefix", "")
    query = (
        select(BucketRecord)
        .where(
            BucketRecord.owner_account_id == ctx.caller.account_id,
            BucketRecord.name.startswith(prefix, autoescape=True),
        )
        .order_by(BucketRecord.name)
        .limit(limit + 1)
    )
    if "ContinuationToken" in request:
        query = query.where(BucketRecord.name > decode_token(request["ContinuationToken"]))
    if "BucketRegion" in request:
        query = query.where(BucketRecord.region == request["BucketRegion"])
    with ctx.storage.database.session() as session:
        records = session.scalars(query).all()
    page = records[:limit]
    output: dict[str, Any] = {
        "Buckets": [{"Name": b.name, "CreationDate": b.created_at, "BucketRegion": b.region} for b in page],
        "Owner": owner(ctx),
    }
    if prefix:
        output["Prefix"] = prefix
    if len(records) > limit:
        output["ContinuationToken"] = encode_token(page[-1].name)
    return output
