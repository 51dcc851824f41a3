"""Training's S3 side: channels read in place from the object files, model artifacts written as objects."""

from __future__ import annotations

import json
import tarfile
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from nimbus.errors import AwsError
from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.registry import Caller, RequestContext
from nimbus.services.s3.attributes import content_attributes
from nimbus.services.s3.checksums import UploadDigests
from nimbus.services.s3.keys import check_key_for_write
from nimbus.services.s3.records import OBJECTS, require_bucket, save_object
from nimbus.storage import Storage
from nimbus.storage.objects import MissingFile, StorageError, UnsupportedKey, key_segments

DOWNLOAD_FAILED = "Data download failed"  # how a FailureReason begins when the role may not read
UPLOAD_FAILED = "Failed to upload the output"


class JobFailure(Exception):
    """Why a job failed, as its FailureReason says it."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); ValueError for anything else."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise ValueError(uri)
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


@dataclass(frozen=True)
class ObjectFile:
    """An object read in place: its file (the plain file at its key, or the blob a key that no path can
    hold is kept as), its key, and its path inside the channel."""

    path: Path
    relative: str
    location: str  # bucket/key


def channel_objects(storage: Storage, uri: str) -> list[ObjectFile]:
    """The objects under an S3 prefix (folder objects aside)."""
    bucket, prefix = split_s3_uri(uri)
    query = select(OBJECTS.c.key, OBJECTS.c.blob, OBJECTS.c.sse_customer).where(
        OBJECTS.c.bucket == bucket, OBJECTS.c.key.startswith(prefix, autoescape=True)
    )
    with storage.database.engine.connect() as connection:
        rows = [row for row in connection.execute(query) if not row.key.endswith("/")]
    if not rows:
        raise JobFailure(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
            "Please ensure that the bucket exists in the selected region, "
            "that objects exist under that S3 prefix."
        )
    return [_object_file(storage, bucket, row, _relative(prefix, row.key)) for row in rows]


def readable_objects(storage: Storage, source: dict[str, Any], access: RoleAccess) -> list[ObjectFile]:
    """The objects of an S3 data source (the objects under its prefix, or those its manifest names),
    read as SageMaker reads them, with the job's role: the role must be allowed to list the prefix
    (or read the manifest) and to read each object."""
    uri = source["S3Uri"]
    bucket, prefix = split_s3_uri(uri)
    if source["S3DataType"] == "ManifestFile":
        require_role(access, "s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}", DOWNLOAD_FAILED)
        found = manifest_objects(storage, uri)
    else:
        listing = {"s3:prefix": prefix}
        require_role(access, "s3:ListBucket", f"arn:aws:s3:::{bucket}", DOWNLOAD_FAILED, listing)
        found = channel_objects(storage, uri)
    for item in found:
        require_role(access, "s3:GetObject", f"arn:aws:s3:::{item.location}", DOWNLOAD_FAILED)
    return found


def require_role(
    access: RoleAccess, action: str, resource: str, failure: str, context: dict[str, str] | None = None
) -> None:
    """JobFailure, AWS's ClientError with S3's AccessDenied, when the job's role may not do it."""
    denied = access.denial(action, resource, context)
    if denied:
        raise JobFailure(f"ClientError: {failure}: {denied}")


def channel_files(storage: Storage, uri: str) -> dict[Path, str]:
    """The object files under an S3 prefix, each with its path inside the channel folder."""
    return {found.path: found.relative for found in channel_objects(storage, uri)}


def _object_file(storage: Storage, bucket: str, row: Any, relative: str) -> ObjectFile:
    location = f"{bucket}/{row.key}"
    try:
        key_segments(relative)  # the file goes to <channel folder>/<relative>: never outside it
    except UnsupportedKey:
        raise JobFailure(
            f"ClientError: s3://{location} cannot be placed in the channel's folder: the part of its key "
            f"after the prefix ({relative!r}) is no path (it has '.', '..' or empty segments)."
        ) from None
    if row.sse_customer is not None:
        raise JobFailure(
            f"ClientError: s3://{location} is encrypted with a customer-provided key (SSE-C), "
            "which SageMaker cannot read."
        )
    try:
        path = storage.objects.stored_file(bucket, row.key, row.blob)
    except StorageError:
        raise JobFailure(f"ClientError: The object s3://{location} does not exist.") from None
    return ObjectFile(path, relative, location)


class ArchiveUnreadable(Exception):
    """An S3 archive that is missing or not a tar file; the message says which."""


def extract_archive(storage: Storage, uri: str, target: Path) -> None:
    """Extracts the tar (or tar.gz) object at ``uri`` into ``target``, refusing links out of it."""
    bucket, key = split_s3_uri(uri)
    target.mkdir(parents=True, exist_ok=True)
    try:
        with (
            storage.objects.open_object(bucket, key) as archive,
            tarfile.open(fileobj=archive, mode="r:*") as tar,
        ):
            tar.extractall(target, filter="data")
    except MissingFile:
        raise ArchiveUnreadable(f"Could not find {uri}.") from None
    except (tarfile.TarError, OSError) as error:
        raise ArchiveUnreadable(f"{uri} is not a tar.gz archive: {error}") from None


def manifest_objects(storage: Storage, uri: str) -> list[ObjectFile]:
    """The objects a manifest names (a JSON array: ``{"prefix": "s3://bucket/prefix/"}``, then keys
    relative to it), in the manifest's order."""
    bucket, key = split_s3_uri(uri)
    try:
        with storage.objects.open_object(bucket, key) as manifest:
            entries = json.load(manifest)
        prefix_bucket, prefix_key = split_s3_uri(entries[0]["prefix"])
        relatives = [str(entry) for entry in entries[1:]]
    except MissingFile:
        raise JobFailure(f"ClientError: Cannot read the manifest file {uri}: it does not exist.") from None
    except (ValueError, LookupError, TypeError, StorageError):
        raise JobFailure(
            f'ClientError: The manifest file {uri} is not a JSON array of a {{"prefix": "s3://..."}} '
            "object followed by keys relative to it."
        ) from None
    if not relatives:
        raise JobFailure(f"ClientError: The manifest file {uri} names no objects.")
    keys = {prefix_key + relative: relative for relative in relatives}
    query = select(OBJECTS.c.key, OBJECTS.c.blob, OBJECTS.c.sse_customer).where(
        OBJECTS.c.bucket == prefix_bucket, OBJECTS.c.key.in_(keys)
    )
    with storage.database.engine.connect() as connection:
        rows = {row.key: row for row in connection.execute(query)}
    missing = next((key for key in keys if key not in rows or key.endswith("/")), None)
    if missing is not None:
        raise JobFailure(
            f"ClientError: The object s3://{prefix_bucket}/{missing} named in the manifest {uri} "
            "does not exist."
        )
    return [_object_file(storage, prefix_bucket, rows[key], relative) for key, relative in keys.items()]


def _relative(prefix: str, key: str) -> str:
    """A key's path in the channel: what follows the prefix when the prefix ends at a folder, else what
    follows the prefix's last folder."""
    rest = key[len(prefix) :]
    if prefix.endswith("/") or rest.startswith("/"):
        return rest.lstrip("/") or key.rsplit("/", 1)[-1]
    return key[prefix.rfind("/") + 1 :]


def upload_model(storage: Storage, caller: Caller, region: str, model_dir: Path, uri: str) -> None:
    """Packs the model folder as ``model.tar.gz`` and writes it through S3's own write path."""
    with tempfile.TemporaryFile() as packed:
        with tarfile.open(fileobj=packed, mode="w:gz") as tar:
            for path in sorted(model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        packed.seek(0)
        write_object(storage, caller, region, uri, packed, "application/x-tar", "the model")


def write_object(
    storage: Storage, caller: Caller, region: str, uri: str, body: BinaryIO, content_type: str, what: str
) -> None:
    """Writes ``body`` as the object at ``uri`` through S3's own write path; JobFailure (naming
    ``what``) when S3 refuses it."""
    bucket, key = split_s3_uri(uri)
    ctx = RequestContext(uuid.uuid4().hex, region, caller, storage, datetime.now(UTC))
    try:
        require_bucket(ctx, bucket)
        check_key_for_write(key)
        attributes = {**content_attributes({"ContentType": content_type}), "tags": {}}
        save_object(ctx, bucket, key, body, UploadDigests([]), attributes, {})
    except AwsError as error:
        raise JobFailure(f"ClientError: could not write {what} to {uri}: {error.message}") from None
