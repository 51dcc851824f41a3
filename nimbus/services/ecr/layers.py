"""ECR's own layer API (BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart,
CompleteLayerUpload): the same uploads and blobs as the registry API's."""

from __future__ import annotations

import io
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.ecr import ecr
from nimbus.services.ecr.image_records import (
    blob_size,
    check_upload,
    finish_upload,
    start_upload,
    upload_not_found,
)
from nimbus.services.ecr.records import (
    blobs,
    find_repository,
    invalid_parameter,
    request_key,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.image_blobs import InvalidDigest, OffsetMismatch, UploadUnknown, check_digest

PART_SIZE = 10 * 1024 * 1024  # what InitiateLayerUpload suggests; any part size is taken


@ecr.operation
def batch_check_layer_availability(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = request_key(ctx, request)
    with ctx.storage.database.engine.connect() as connection:
        find_repository(connection, key)
    layers, failures = [], []
    for digest in request["layerDigests"]:
        try:
            check_digest(digest)
        except InvalidDigest:
            failures.append(
                {
                    "layerDigest": digest,
                    "failureCode": "InvalidLayerDigest",
                    "failureReason": "Invalid layer digest",
                }
            )
            continue
        size = blob_size(ctx.storage, key, digest)
        if size is None:
            failures.append(
                {
                    "layerDigest": digest,
                    "failureCode": "MissingLayerDigest",
                    "failureReason": "Requested layer not found",
                }
            )
        else:
            layers.append({"layerDigest": digest, "layerAvailability": "AVAILABLE", "layerSize": size})
    return {"layers": layers, "failures": failures}


@ecr.operation
def initiate_layer_upload(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"uploadId": start_upload(ctx.storage, request_key(ctx, request)), "partSize": PART_SIZE}


@ecr.operation
def upload_layer_part(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = request_key(ctx, request)
    upload_id = request["uploadId"]
    check_upload(ctx.storage, key, upload_id)
    part = request["layerPartBlob"]
    first, last = request["partFirstByte"], request["partLastByte"]
    if last - first + 1 != len(part):
        raise AwsError(
            "InvalidLayerPartException",
            f"The part holds {len(part)} bytes, not bytes {first} to {last}.",
            400,
        )
    try:
        size = blobs(ctx.storage).append(upload_id, io.BytesIO(part), first)
    except OffsetMismatch as error:
        raise AwsError(
            "InvalidLayerPartException",
            f"The part starts at byte {first}, but the upload holds {error.size} bytes.",
            400,
        ) from None
    except UploadUnknown:
        raise upload_not_found(upload_id) from None
    return {
        "registryId": key.account_id,
        "repositoryName": key.name,
        "uploadId": upload_id,
        "lastByteReceived": size - 1,
    }


@ecr.operation
def complete_layer_upload(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = request_key(ctx, request)
    upload_id = request["uploadId"]
    digests = request["layerDigests"]
    if len(digests) != 1:
        raise invalid_parameter("Nimbus completes an upload with exactly one layer digest.")
    check_upload(ctx.storage, key, upload_id)
    if blobs(ctx.storage).upload_size(upload_id) == 0:
        raise AwsError("EmptyUploadException", "The upload holds no bytes.", 400)
    if blob_size(ctx.storage, key, digests[0]) is not None:
        raise AwsError(
            "LayerAlreadyExistsException", f"The layer {digests[0]} already exists in the repository.", 400
        )
    finish_upload(ctx.storage, key, upload_id, digests[0])
    return {
        "registryId": key.account_id,
        "repositoryName": key.name,
        "uploadId": upload_id,
        "layerDigest": digests[0],
    }
