"""What a repository holds: its images (manifests), tags and blobs, and its blob uploads. Shared by
ECR's operations (PutImage, BatchGetImage...) and the registry API (``docker push``/``pull``) in the
gateway, so both see and change the same images the same way; errors carry ECR's codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from nimbus.errors import AwsError
from nimbus.services.ecr.manifests import INDEX_TYPES, InvalidManifest, Manifest, parse_manifest
from nimbus.services.ecr.records import (
    IMAGES,
    LAYERS,
    REPOSITORIES,
    TAGS,
    UPLOADS,
    RepositoryKey,
    blobs,
    find_repository,
    invalid_parameter,
)
from nimbus.storage import Storage
from nimbus.storage.image_blobs import DigestMismatch, InvalidDigest, UploadUnknown, check_digest


def is_digest(reference: str) -> bool:
    return reference.startswith("sha256:")


def resolve(connection: Connection, key: RepositoryKey, reference: str) -> str | None:
    """The digest a tag or digest names in the repository, or None."""
    if is_digest(reference):
        found = connection.execute(
            select(IMAGES.c.digest).where(key.where(IMAGES), IMAGES.c.digest == reference)
        ).scalar()
    else:
        found = connection.execute(
            select(TAGS.c.digest).where(key.where(TAGS), TAGS.c.tag == reference)
        ).scalar()
    return str(found) if found is not None else None


def image_not_found(key: RepositoryKey, reference: str) -> AwsError:
    what = "digest" if is_digest(reference) else "tag"
    return AwsError(
        "ImageNotFoundException",
        f"The image with imageId {{imageDigest:'{reference if what == 'digest' else 'null'}', "
        f"imageTag:'{reference if what == 'tag' else 'null'}'}} does not exist within the repository "
        f"with name '{key.name}' in the registry with id '{key.account_id}'",
        400,
    )


def store_manifest(
    storage: Storage,
    key: RepositoryKey,
    data: bytes,
    declared_type: str | None,
    *,
    tag: str | None = None,
    digest: str | None = None,
) -> tuple[str, Manifest]:
    """Stores a pushed manifest under its digest (which must be ``digest`` when given) and points
    ``tag`` at it. Every blob and manifest it names must be in the repository already."""
    try:
        manifest = parse_manifest(data, declared_type)
    except InvalidManifest as error:
        raise invalid_parameter(f"Invalid parameter at 'imageManifest': {error}") from None
    if tag is not None:
        _check_tag(tag)
    try:
        digest = blobs(storage).put(data, digest)
    except (DigestMismatch, InvalidDigest) as error:
        raise AwsError(
            "ImageDigestDoesNotMatchException", f"The digest of the manifest does not match: {error}", 400
        ) from None
    now = datetime.now(UTC)
    with storage.database.locked(f"ecr:{key.arn}") as connection:
        repository = find_repository(connection, key)
        _check_references(connection, key, manifest)
        if tag is not None and repository.tag_mutability == "IMMUTABLE":
            held = resolve(connection, key, tag)
            if held is not None and held != digest:
                raise AwsError(
                    "ImageTagAlreadyExistsException",
                    f"The image tag '{tag}' already exists in the '{key.name}' repository and cannot be "
                    "overwritten because the repository is immutable.",
                    400,
                )
        row = {"media_type": manifest.media_type, "artifact_media_type": manifest.artifact_type}
        size = len(data) + manifest.size
        if resolve(connection, key, digest) is None:
            connection.execute(
                insert(IMAGES),
                {
                    "account_id": key.account_id,
                    "region": key.region,
                    "repository": key.name,
                    "digest": digest,
                    "size": size,
                    "pushed_at": now,
                    "last_pulled_at": None,
                    **row,
                },
            )
        if tag is not None:
            connection.execute(delete(TAGS).where(key.where(TAGS), TAGS.c.tag == tag))
            connection.execute(
                insert(TAGS),
                {
                    "account_id": key.account_id,
                    "region": key.region,
                    "repository": key.name,
                    "tag": tag,
                    "digest": digest,
                },
            )
    return digest, manifest


def _check_tag(tag: str) -> None:
    if not tag or len(tag) > 300 or tag.startswith(("sha256:", ".", "-")) or any(c in tag for c in "/@: "):
        raise invalid_parameter(f"Invalid parameter at 'imageTag': {tag!r} is not a valid image tag")


def _check_references(connection: Connection, key: RepositoryKey, manifest: Manifest) -> None:
    stored = set(
        connection.execute(
            select(LAYERS.c.digest).where(
                key.where(LAYERS), LAYERS.c.digest.in_([blob.digest for blob in manifest.blobs])
            )
        ).scalars()
    )
    missing = [blob.digest for blob in manifest.blobs if blob.digest not in stored]
    if missing:
        raise AwsError(
            "LayersNotFoundException",
            f"The image manifest references blobs that are not in the repository: {', '.join(missing)}",
            400,
        )
    children = [child.digest for child in manifest.children]
    present = set(
        connection.execute(
            select(IMAGES.c.digest).where(key.where(IMAGES), IMAGES.c.digest.in_(children))
        ).scalars()
    )
    absent = [digest for digest in children if digest not in present]
    if absent:
        raise AwsError(
            "ReferencedImagesNotFoundException",
            f"The image index references manifests that are not in the repository: {', '.join(absent)}",
            400,
        )


def read_manifest(storage: Storage, key: RepositoryKey, reference: str) -> tuple[str, str, bytes]:
    """(digest, media type, bytes) of the manifest a tag or digest names; records the pull."""
    with storage.database.engine.begin() as connection:
        find_repository(connection, key)
        digest = resolve(connection, key, reference)
        if digest is None:
            raise image_not_found(key, reference)
        media_type = connection.execute(
            select(IMAGES.c.media_type).where(key.where(IMAGES), IMAGES.c.digest == digest)
        ).scalar_one()
        connection.execute(
            update(IMAGES)
            .where(key.where(IMAGES), IMAGES.c.digest == digest)
            .values(last_pulled_at=datetime.now(UTC))
        )
    return digest, str(media_type), blobs(storage).read(digest)


def delete_image(connection: Connection, key: RepositoryKey, digest: str, storage: Storage) -> list[str]:
    """Removes the image and its tags; returns the tags it had. An image an index of the repository
    names cannot go first (ECR's ImageReferencedByManifestList)."""
    for index in connection.execute(
        select(IMAGES.c.digest).where(key.where(IMAGES), IMAGES.c.media_type.in_(INDEX_TYPES))
    ).scalars():
        if index != digest and digest in {
            c.digest for c in parse_manifest(blobs(storage).read(index), None).children
        }:
            raise AwsError(
                "ImageReferencedByManifestList",
                f"The image {digest} is referenced by the image index {index}: delete the index first.",
                400,
            )
    tags = list(
        connection.execute(select(TAGS.c.tag).where(key.where(TAGS), TAGS.c.digest == digest)).scalars()
    )
    connection.execute(delete(TAGS).where(key.where(TAGS), TAGS.c.digest == digest))
    connection.execute(delete(IMAGES).where(key.where(IMAGES), IMAGES.c.digest == digest))
    return tags


def untag(connection: Connection, key: RepositoryKey, tag: str) -> str | None:
    """Removes a tag; the digest it named, or None when there was no such tag. The image stays."""
    digest = resolve(connection, key, tag)
    connection.execute(delete(TAGS).where(key.where(TAGS), TAGS.c.tag == tag))
    return digest


# ---- blobs -------------------------------------------------------------------------------------


def blob_size(storage: Storage, key: RepositoryKey, digest: str) -> int | None:
    """The size of a blob the repository may serve, or None."""
    with storage.database.engine.connect() as connection:
        size = connection.execute(
            select(LAYERS.c.size).where(key.where(LAYERS), LAYERS.c.digest == digest)
        ).scalar()
    return int(size) if size is not None and blobs(storage).size(digest) is not None else None


def link_blob(storage: Storage, key: RepositoryKey, digest: str, size: int) -> None:
    """Lets the repository serve a stored blob (after its upload, or a mount from another repository)."""
    with storage.database.engine.begin() as connection:
        find_repository(connection, key)
        exists = connection.execute(
            select(func.count()).select_from(LAYERS).where(key.where(LAYERS), LAYERS.c.digest == digest)
        ).scalar_one()
        if not exists:
            connection.execute(
                insert(LAYERS),
                {
                    "account_id": key.account_id,
                    "region": key.region,
                    "repository": key.name,
                    "digest": digest,
                    "size": size,
                },
            )


def start_upload(storage: Storage, key: RepositoryKey) -> str:
    with storage.database.engine.begin() as connection:
        find_repository(connection, key)
        upload_id = blobs(storage).start_upload()
        connection.execute(
            insert(UPLOADS),
            {
                "upload_id": upload_id,
                "account_id": key.account_id,
                "region": key.region,
                "repository": key.name,
                "created_at": datetime.now(UTC),
            },
        )
    return upload_id


def check_upload(storage: Storage, key: RepositoryKey, upload_id: str) -> None:
    """UploadNotFoundException unless ``upload_id`` is an upload of this repository under way."""
    with storage.database.engine.connect() as connection:
        found = connection.execute(
            select(UPLOADS.c.upload_id).where(key.where(UPLOADS), UPLOADS.c.upload_id == upload_id[:64])
        ).first()
    if found is None:
        raise upload_not_found(upload_id)


def upload_not_found(upload_id: str) -> AwsError:
    return AwsError("UploadNotFoundException", f"The upload {upload_id!r} does not exist.", 400)


def finish_upload(storage: Storage, key: RepositoryKey, upload_id: str, digest: str) -> int:
    """The upload becomes the blob ``digest`` of the repository if its bytes hash to it."""
    check_upload(storage, key, upload_id)
    try:
        check_digest(digest)
        size = blobs(storage).finish_upload(upload_id, digest)
    except InvalidDigest:
        raise invalid_parameter(f"Invalid layer digest {digest!r}: sha256:<64 hex digits>") from None
    except DigestMismatch as error:
        _forget_upload(storage, upload_id)
        raise AwsError(
            "InvalidLayerException", f"The layer does not match its digest: {error}", 400
        ) from None
    except UploadUnknown:
        raise upload_not_found(upload_id) from None
    _forget_upload(storage, upload_id)
    link_blob(storage, key, digest, size)
    return size


def cancel_upload(storage: Storage, key: RepositoryKey, upload_id: str) -> None:
    check_upload(storage, key, upload_id)
    blobs(storage).cancel_upload(upload_id)
    _forget_upload(storage, upload_id)


def _forget_upload(storage: Storage, upload_id: str) -> None:
    with storage.database.engine.begin() as connection:
        connection.execute(delete(UPLOADS).where(UPLOADS.c.upload_id == upload_id))


def repository_names(storage: Storage, account_id: str, region: str) -> list[str]:
    with storage.database.engine.connect() as connection:
        return list(
            connection.execute(
                select(REPOSITORIES.c.name)
                .where(REPOSITORIES.c.account_id == account_id, REPOSITORIES.c.region == region)
                .order_by(REPOSITORIES.c.name)
            ).scalars()
        )


def tag_names(storage: Storage, key: RepositoryKey) -> list[str]:
    with storage.database.engine.connect() as connection:
        find_repository(connection, key)
        return list(
            connection.execute(select(TAGS.c.tag).where(key.where(TAGS)).order_by(TAGS.c.tag)).scalars()
        )


def image_rows(connection: Connection, key: RepositoryKey) -> list[Any]:
    """The repository's images, newest first."""
    return list(
        connection.execute(select(IMAGES).where(key.where(IMAGES)).order_by(IMAGES.c.pushed_at.desc())).all()
    )


def tags_by_digest(connection: Connection, key: RepositoryKey) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in connection.execute(select(TAGS).where(key.where(TAGS)).order_by(TAGS.c.tag)):
        found.setdefault(row.digest, []).append(row.tag)
    return found
