"""Repositories: create, describe, delete, tag mutability and scanning settings, tags."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.ecr import ecr
from nimbus.services.ecr.records import (
    IMAGES,
    LAYERS,
    REPOSITORIES,
    TAGS,
    UPLOADS,
    RepositoryKey,
    find_repository,
    invalid_parameter,
    page_of,
    repository_not_found,
    request_key,
    update_repository,
)
from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import tag_condition_keys
from nimbus.storage import Storage

MAX_TAGS = 50


def repository_shape(row: Mapping[str, Any]) -> dict[str, Any]:
    """ECR's Repository of a row's values."""
    key = RepositoryKey(row["account_id"], row["region"], row["name"])
    return {
        "repositoryArn": key.arn,
        "registryId": key.account_id,
        "repositoryName": key.name,
        "repositoryUri": key.uri,
        "createdAt": row["created_at"],
        "imageTagMutability": row["tag_mutability"],
        "imageScanningConfiguration": {"scanOnPush": row["scan_on_push"]},
        "encryptionConfiguration": row["encryption"],
    }


@ecr.operation
def create_repository(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The repository's URI is this Nimbus's registry address and its name (``docker push`` takes it
    as is). Encryption at rest is recorded as asked (AES256 by default) but blobs are plain files;
    imageTagMutabilityExclusionFilters are refused; image scanning is recorded, no scan runs."""
    key = request_key(ctx, request)
    if request.get("imageTagMutabilityExclusionFilters"):
        raise invalid_parameter("Nimbus does not support imageTagMutabilityExclusionFilters.")
    mutability = request.get("imageTagMutability", "MUTABLE")
    if mutability not in ("MUTABLE", "IMMUTABLE"):
        raise invalid_parameter(
            f"Nimbus supports imageTagMutability MUTABLE and IMMUTABLE, not {mutability}."
        )
    tags = _checked_tags(request.get("tags") or [])
    row = {
        "account_id": key.account_id,
        "region": key.region,
        "name": key.name,
        "created_at": datetime.now(UTC),
        "tag_mutability": mutability,
        "scan_on_push": bool((request.get("imageScanningConfiguration") or {}).get("scanOnPush")),
        "encryption": request.get("encryptionConfiguration") or {"encryptionType": "AES256"},
        "tags": tags,
        "policy_text": None,
        "lifecycle_policy_text": None,
        "lifecycle_updated_at": None,
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(REPOSITORIES), row)
    except IntegrityError:
        raise AwsError(
            "RepositoryAlreadyExistsException",
            f"The repository with name '{key.name}' already exists in the registry with id "
            f"'{key.account_id}'",
            400,
        ) from None
    return {"repository": repository_shape(row)}


def _checked_tags(tags: list[dict[str, str]]) -> list[dict[str, str]]:
    if len(tags) > MAX_TAGS:
        raise AwsError("TooManyTagsException", f"A repository can have at most {MAX_TAGS} tags.", 400)
    keys = [tag["Key"] for tag in tags]
    if len(set(keys)) != len(keys):
        raise AwsError("InvalidTagParameterException", "Tag keys must be unique.", 400)
    return tags


@ecr.operation
def describe_repositories(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = request_key(ctx, request)
    query = select(REPOSITORIES).where(
        REPOSITORIES.c.account_id == key.account_id, REPOSITORIES.c.region == key.region
    )
    names = request.get("repositoryNames")
    if names and (request.get("nextToken") or request.get("maxResults")):
        raise invalid_parameter("repositoryNames cannot be combined with nextToken or maxResults.")
    with ctx.storage.database.engine.connect() as connection:
        rows = {row.name: row for row in connection.execute(query.order_by(REPOSITORIES.c.name))}
    if names:
        missing = [name for name in names if name not in rows]
        if missing:
            raise repository_not_found(missing[0], key.account_id)
        return {"repositories": [repository_shape(rows[name]._mapping) for name in names]}
    chosen, token = page_of(list(rows.values()), request, 100)
    return {
        "repositories": [repository_shape(row._mapping) for row in chosen],
        **({"nextToken": token} if token else {}),
    }


@ecr.operation
def delete_repository(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Blob files stay in the content-addressed store (another repository may share them)."""
    key = request_key(ctx, request)
    with ctx.storage.database.locked(f"ecr:{key.arn}") as connection:
        row = find_repository(connection, key)
        images = connection.execute(select(IMAGES.c.digest).where(key.where(IMAGES))).first()
        if images is not None and not request.get("force"):
            raise AwsError(
                "RepositoryNotEmptyException",
                f"The repository with name '{key.name}' in registry with id '{key.account_id}' cannot be "
                "deleted because it still contains images",
                400,
            )
        for table in (TAGS, IMAGES, LAYERS, UPLOADS):
            connection.execute(delete(table).where(key.where(table)))
        connection.execute(delete(REPOSITORIES).where(key.where(REPOSITORIES)))
    return {"repository": repository_shape(row._mapping)}


@ecr.operation
def put_image_tag_mutability(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = request_key(ctx, request)
    mutability = request["imageTagMutability"]
    if mutability not in ("MUTABLE", "IMMUTABLE") or request.get("imageTagMutabilityExclusionFilters"):
        raise invalid_parameter(
            "Nimbus supports imageTagMutability MUTABLE and IMMUTABLE, without exclusion filters."
        )
    update_repository(ctx.storage, key, tag_mutability=mutability)
    return {"registryId": key.account_id, "repositoryName": key.name, "imageTagMutability": mutability}


@ecr.operation
def put_image_scanning_configuration(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Recorded; Nimbus runs no vulnerability scanner."""
    key = request_key(ctx, request)
    scan = bool(request["imageScanningConfiguration"].get("scanOnPush"))
    update_repository(ctx.storage, key, scan_on_push=scan)
    return {
        "registryId": key.account_id,
        "repositoryName": key.name,
        "imageScanningConfiguration": {"scanOnPush": scan},
    }


def _arn_key(ctx: RequestContext, arn: str) -> RepositoryKey:
    prefix = f"arn:aws:ecr:{ctx.region}:{ctx.caller.account_id}:repository/"
    if not arn.startswith(prefix):
        raise invalid_parameter(
            f"Invalid parameter at 'resourceArn': {arn} is not a repository of this registry"
        )
    return RepositoryKey(ctx.caller.account_id, ctx.region, arn.removeprefix(prefix))


@ecr.operation
def tag_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    given = {tag["Key"]: tag["Value"] for tag in _checked_tags(request["tags"])}

    def merged(tags: list[dict[str, str]]) -> list[dict[str, str]]:
        values = {tag["Key"]: tag["Value"] for tag in tags} | given
        return _checked_tags([{"Key": name, "Value": value} for name, value in values.items()])

    _retag(ctx, request["resourceArn"], merged)
    return {}


@ecr.operation
def untag_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    removed = set(request["tagKeys"])
    _retag(ctx, request["resourceArn"], lambda tags: [tag for tag in tags if tag["Key"] not in removed])
    return {}


def _retag(
    ctx: RequestContext, arn: str, change: Callable[[list[dict[str, str]]], list[dict[str, str]]]
) -> None:
    key = _arn_key(ctx, arn)
    with ctx.storage.database.engine.begin() as connection:
        tags = change(find_repository(connection, key).tags)
        connection.execute(update(REPOSITORIES).where(key.where(REPOSITORIES)).values(tags=tags))


@ecr.operation
def list_tags_for_resource(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = _arn_key(ctx, request["resourceArn"])
    with ctx.storage.database.engine.connect() as connection:
        return {"tags": find_repository(connection, key).tags}


def repository_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
    """``aws:ResourceTag/*`` and ``ecr:ResourceTag/*`` of the repository ``arn`` names."""
    key = RepositoryKey.of_arn(arn)
    if key is None:
        return {}
    with storage.database.engine.connect() as connection:
        tags = connection.scalar(select(REPOSITORIES.c.tags).where(key.where(REPOSITORIES)))
    return tag_condition_keys(tags, "aws:resourcetag/", "ecr:resourcetag/")


ecr.resource_tags(repository_tag_keys)
