"""Images: PutImage, BatchGetImage, ListImages, DescribeImages, BatchDeleteImage. Pushes and pulls
through the registry API (docker, podman, skopeo) change and read the same rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.ecr import ecr
from nimbus.services.ecr.image_records import (
    delete_image,
    image_rows,
    read_manifest,
    resolve,
    store_manifest,
    tags_by_digest,
    untag,
)
from nimbus.services.ecr.lifecycle import apply_lifecycle_policy
from nimbus.services.ecr.records import RepositoryKey, find_repository, page_of, request_key
from nimbus.services.registry import RequestContext
from nimbus.storage.image_blobs import InvalidDigest, check_digest, digest_of


@ecr.operation
def put_image(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = request_key(ctx, request)
    tag, expected = request.get("imageTag"), request.get("imageDigest")
    data = request["imageManifest"].encode()
    with ctx.storage.database.engine.connect() as connection:
        find_repository(connection, key)
        if tag is not None:
            held = resolve(connection, key, tag)
            if held is not None and held == (expected or digest_of(data)):
                raise AwsError(
                    "ImageAlreadyExistsException",
                    f"Image with digest '{held}' and tag '{tag}' already exists in the repository with name "
                    f"'{key.name}' in registry with id '{key.account_id}'",
                    400,
                )
    digest, manifest = store_manifest(
        ctx.storage, key, data, request.get("imageManifestMediaType"), tag=tag, digest=expected
    )
    apply_lifecycle_policy(ctx.storage, key)
    image_id = {"imageDigest": digest, **({"imageTag": tag} if tag else {})}
    return {
        "image": {
            "registryId": key.account_id,
            "repositoryName": key.name,
            "imageId": image_id,
            "imageManifest": request["imageManifest"],
            "imageManifestMediaType": manifest.media_type,
        }
    }


def _failure(image_id: dict[str, str], code: str, reason: str) -> dict[str, Any]:
    return {"imageId": image_id, "failureCode": code, "failureReason": reason}


def _resolved(connection: Any, key: RepositoryKey, image_id: dict[str, str]) -> str | dict[str, Any]:
    """The digest an imageId names, or the failure that says why it names none."""
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    if digest is None and tag is None:
        return _failure(
            image_id, "MissingDigestAndTag", "Invalid request parameters: both tag and digest cannot be null"
        )
    if digest is not None:
        try:
            check_digest(digest)
        except InvalidDigest:
            return _failure(
                image_id,
                "InvalidImageDigest",
                "Invalid request parameters: image digest should satisfy the regex "
                "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
            )
    found = resolve(connection, key, tag) if tag is not None else resolve(connection, key, str(digest))
    if found is None:
        return _failure(image_id, "ImageNotFound", "Requested image not found")
    if digest is not None and tag is not None and found != digest:
        return _failure(
            image_id,
            "ImageTagDoesNotMatchDigest",
            "Invalid request parameters: given tag does not map to the given digest",
        )
    return found


@ecr.operation
def batch_get_image(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Manifests are returned as pushed: Nimbus converts no manifest to another media type."""
    key = request_key(ctx, request)
    accepted = request.get("acceptedMediaTypes")
    images, failures = [], []
    with ctx.storage.database.engine.connect() as connection:
        find_repository(connection, key)
        found = [(image_id, _resolved(connection, key, image_id)) for image_id in request["imageIds"]]
    for image_id, digest in found:
        if isinstance(digest, dict):
            failures.append(digest)
            continue
        _, media_type, data = read_manifest(ctx.storage, key, digest)
        if accepted and media_type not in accepted:
            failures.append(
                _failure(
                    image_id,
                    "ImageNotFound",
                    f"The image's manifest is {media_type}, not an accepted media type",
                )
            )
            continue
        images.append(
            {
                "registryId": key.account_id,
                "repositoryName": key.name,
                "imageId": {
                    "imageDigest": digest,
                    **({"imageTag": image_id["imageTag"]} if "imageTag" in image_id else {}),
                },
                "imageManifest": data.decode(),
                "imageManifestMediaType": media_type,
            }
        )
    return {"images": images, "failures": failures}


def _tag_status_ok(tags: list[str], request: dict[str, Any]) -> bool:
    status = (request.get("filter") or {}).get("tagStatus", "ANY")
    return status == "ANY" or (status == "TAGGED") == bool(tags)


@ecr.operation
def list_images(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = request_key(ctx, request)
    with ctx.storage.database.engine.connect() as connection:
        find_repository(connection, key)
        tags = tags_by_digest(connection, key)
        rows = image_rows(connection, key)
    ids: list[dict[str, str]] = []
    for row in rows:
        held = tags.get(row.digest, [])
        if _tag_status_ok(held, request):
            ids += [{"imageDigest": row.digest, "imageTag": tag} for tag in held] or [
                {"imageDigest": row.digest}
            ]
    chosen, token = page_of(ids, request, 100)
    return {"imageIds": chosen, **({"nextToken": token} if token else {})}


@ecr.operation
def describe_images(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """No scan status or findings (Nimbus runs no scanner)."""
    key = request_key(ctx, request)
    with ctx.storage.database.engine.connect() as connection:
        find_repository(connection, key)
        tags = tags_by_digest(connection, key)
        rows = {row.digest: row for row in image_rows(connection, key)}
        wanted = request.get("imageIds")
        if wanted:
            digests = []
            for image_id in wanted:
                digest = _resolved(connection, key, image_id)
                if isinstance(digest, dict):
                    raise AwsError("ImageNotFoundException", f"{digest['failureReason']}: {image_id}", 400)
                digests.append(digest)
            chosen_rows = [rows[digest] for digest in dict.fromkeys(digests)]
        else:
            chosen_rows = [row for row in rows.values() if _tag_status_ok(tags.get(row.digest, []), request)]
    chosen, token = page_of(chosen_rows, request, 100)
    return {
        "imageDetails": [_detail(key, row, tags.get(row.digest, [])) for row in chosen],
        **({"nextToken": token} if token else {}),
    }


def _detail(key: RepositoryKey, row: Any, tags: list[str]) -> dict[str, Any]:
    detail = {
        "registryId": key.account_id,
        "repositoryName": key.name,
        "imageDigest": row.digest,
        "imageSizeInBytes": row.size,
        "imagePushedAt": row.pushed_at,
        "imageManifestMediaType": row.media_type,
    }
    optional = {
        "imageTags": tags,
        "artifactMediaType": row.artifact_media_type,
        "lastRecordedPullTime": row.last_pulled_at,
    }
    return detail | {name: value for name, value in optional.items() if value}


@ecr.operation
def batch_delete_image(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A tag is removed from its image, and the image with its last tag, as in ECR; a digest removes
    the image and all its tags."""
    key = request_key(ctx, request)
    deleted: list[dict[str, str]] = []
    failures: list[dict[str, Any]] = []
    with ctx.storage.database.locked(f"ecr:{key.arn}") as connection:
        find_repository(connection, key)
        for image_id in request["imageIds"]:
            digest = _resolved(connection, key, image_id)
            if isinstance(digest, dict):
                failures.append(digest)
                continue
            try:
                deleted += list(_delete(connection, key, image_id, digest, ctx))
            except AwsError as error:
                failures.append(_failure(image_id, error.code, error.message))
    return {"imageIds": deleted, "failures": failures}


def _delete(
    connection: Any, key: RepositoryKey, image_id: dict[str, str], digest: str, ctx: RequestContext
) -> Iterator[dict[str, str]]:
    tag = image_id.get("imageTag")
    if tag is not None and "imageDigest" not in image_id:
        untag(connection, key, tag)
        yield {"imageDigest": digest, "imageTag": tag}
        if tags_by_digest(connection, key).get(digest):
            return
        delete_image(connection, key, digest, ctx.storage)
        return
    tags = delete_image(connection, key, digest, ctx.storage)
    yield from ({"imageDigest": digest, "imageTag": tag} for tag in tags)
    if not tags:
        yield {"imageDigest": digest}
