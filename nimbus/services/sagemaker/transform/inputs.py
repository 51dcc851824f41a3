"""A job's input objects, read in place from the object files: every object under an S3 prefix, or
the objects a manifest names. Each has the name its ``.out`` object gets under S3OutputPath."""

from __future__ import annotations

import gzip
from typing import Any

from sqlalchemy import select

from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.sagemaker.models import MODELS
from nimbus.services.sagemaker.s3_locations import (
    UPLOAD_FAILED,
    ObjectFile,
    readable_objects,
    require_role,
    split_s3_uri,
)
from nimbus.services.sagemaker.transform.job_rows import JobKey
from nimbus.storage import Storage

# an input's file, its location (bucket/key, as the job's logs name it) and its key relative to the
# prefix: its output is ``<S3OutputPath>/<relative>.out``
InputObject = ObjectFile


def input_objects(storage: Storage, key: JobKey, request: dict[str, Any]) -> list[InputObject]:
    """The job's inputs, which batch transform reads and whose outputs it writes as the model's
    execution role: JobFailure (with AWS's reason) when the role may not read one or write its
    output, or when there is nothing to transform."""
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    access = RoleAccess(storage, _model_role(storage, key, request["ModelName"]), key[2])
    found = readable_objects(storage, source, access)
    items = found if source["S3DataType"] == "ManifestFile" else sorted(found, key=lambda item: item.relative)
    for item in items:
        bucket, output = split_s3_uri(output_location(request, item.relative))
        require_role(access, "s3:PutObject", f"arn:aws:s3:::{bucket}/{output}", UPLOAD_FAILED)
    return items


def output_location(request: dict[str, Any], relative: str) -> str:
    """``<S3OutputPath>/<relative>.out``: where an input's output goes."""
    return f"{request['TransformOutput']['S3OutputPath'].rstrip('/')}/{relative}.out"


def _model_role(storage: Storage, key: JobKey, model_name: str) -> str:
    with storage.database.engine.connect() as connection:
        role = connection.scalar(
            select(MODELS.c.execution_role_arn).where(
                MODELS.c.account_id == key[0], MODELS.c.region == key[1], MODELS.c.name == model_name
            )
        )
    return role or ""


def read_input(item: InputObject, compression: str) -> bytes:
    """The object's bytes, gunzipped for CompressionType Gzip; ValueError when they are not gzip."""
    data = item.path.read_bytes()
    if compression != "Gzip":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise ValueError(f"The object is not gzip-compressed: {error}") from None
