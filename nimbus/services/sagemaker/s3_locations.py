"""Training's S3 side: channels read in place from the object files, model artifacts written as objects."""

from __future__ import annotations

import tarfile
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from nimbus.errors import AwsError
from nimbus.services.registry import Caller, RequestContext
from nimbus.services.s3.attributes import content_attributes
from nimbus.services.s3.checksums import UploadDigests
from nimbus.services.s3.keys import check_key_for_write
from nimbus.services.s3.records import OBJECTS, require_bucket, save_object
from nimbus.storage import Storage
from nimbus.storage.objects import key_segments


class JobFailure(Exception):
    """Why a job failed, as its FailureReason says it."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); ValueError for anything else."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise ValueError(uri)
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def channel_files(storage: Storage, uri: str) -> dict[Path, str]:
    """The object files under an S3 prefix, each with its path inside the channel folder."""
    bucket, prefix = split_s3_uri(uri)
    query = select(OBJECTS.c.key).where(
        OBJECTS.c.bucket == bucket, OBJECTS.c.key.startswith(prefix, autoescape=True)
    )
    with storage.database.engine.connect() as connection:
        keys = [key for key in connection.scalars(query) if not key.endswith("/")]
    if not keys:
        raise JobFailure(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
            "Please ensure that the bucket exists in the selected region, "
            "that objects exist under that S3 prefix."
        )
    return {storage.objects.root.joinpath(bucket, *key_segments(key)): _relative(prefix, key) for key in keys}


def _relative(prefix: str, key: str) -> str:
    """A key's path in the channel: what follows the prefix when the prefix ends at a folder, else what
    follows the prefix's last folder."""
    rest = key[len(prefix) :]
    if prefix.endswith("/") or rest.startswith("/"):
        return rest.lstrip("/") or key.rsplit("/", 1)[-1]
    return key[prefix.rfind("/") + 1 :]


def upload_model(storage: Storage, caller: Caller, region: str, model_dir: Path, uri: str) -> None:
    """Packs the model folder as ``model.tar.gz`` and writes it through S3's own write path."""
    bucket, key = split_s3_uri(uri)
    ctx = RequestContext(uuid.uuid4().hex, region, caller, storage, datetime.now(UTC))
    with tempfile.TemporaryFile() as packed:
        with tarfile.open(fileobj=packed, mode="w:gz") as tar:
            for path in sorted(model_dir.iterdir()):
                tar.add(path, arcname=path.name)
        packed.seek(0)
        try:
            require_bucket(ctx, bucket)
            check_key_for_write(key)
            attributes = {**content_attributes({"ContentType": "application/x-tar"}), "tags": {}}
            save_object(ctx, bucket, key, packed, UploadDigests([]), attributes, {})
        except AwsError as error:
            raise JobFailure(f"ClientError: could not write the model to {uri}: {error.message}") from None
