"""Endpoints: the variants of an endpoint configuration, deployed as worker processes.

CreateEndpoint and UpdateEndpoint answer at once and deploy in a background thread: the endpoint is
InService once every instance answers ``/ping``, Failed (with the reason) when a model does not load.
"""

from __future__ import annotations

import shutil
import tarfile
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.endpoint_configs import find_config
from nimbus.services.sagemaker.models import (
    MODELS,
    hosting_arn,
    page,
    sorted_rows,
    split_s3_url,
    validation,
)
from nimbus.services.sagemaker.workers import EndpointKey, VariantSpec, WorkerFailed, pool
from nimbus.storage import Storage
from nimbus.storage.objects import MissingFile
from nimbus.storage.sagemaker_hosting_schema import SageMakerEndpointRecord

ENDPOINTS = SageMakerEndpointRecord.__table__
FAILURE_REASON_MAX = 1024
_restoring = threading.Lock()


def endpoint_key(ctx: RequestContext, name: str) -> EndpointKey:
    return (ctx.caller.account_id, ctx.region, name)


def _where(key: EndpointKey) -> Any:
    account_id, region, name = key
    return (
        (ENDPOINTS.c.account_id == account_id) & (ENDPOINTS.c.region == region) & (ENDPOINTS.c.name == name)
    )


def find_endpoint(ctx: RequestContext, name: str, connection: Connection) -> Any:
    row = connection.execute(select(ENDPOINTS).where(_where(endpoint_key(ctx, name)))).first()
    if row is None:
        raise validation(f'Could not find endpoint "{hosting_arn(ctx, "endpoint", name)}".')
    return row


def _endpoint_dir(storage: Storage, key: EndpointKey) -> Path:
    return storage.data_dir.joinpath("sagemaker", "endpoints", *key)


def _extract_model(storage: Storage, container: dict[str, Any], model_dir: Path) -> None:
    bucket, key = split_s3_url(container["ModelDataUrl"])
    model_dir.mkdir(parents=True)
    try:
        with (
            storage.objects.open_object(bucket, key) as artifact,
            tarfile.open(fileobj=artifact, mode="r:*") as tar,
        ):
            tar.extractall(model_dir, filter="data")
    except MissingFile:
        raise WorkerFailed(f"Could not find model data at {container['ModelDataUrl']}.") from None
    except (tarfile.TarError, OSError) as error:
        raise WorkerFailed(
            f"The model data at {container['ModelDataUrl']} is not a tar.gz archive: {error}"
        ) from None


def _variant_specs(storage: Storage, key: EndpointKey, variants: list[dict[str, Any]]) -> list[VariantSpec]:
    """Extracts each variant's model artifact into a fresh directory for this deployment."""
    deployment = _endpoint_dir(storage, key) / uuid.uuid4().hex
    specs = []
    for variant in variants:
        with storage.database.engine.connect() as connection:
            model = connection.execute(
                select(MODELS).where(
                    MODELS.c.account_id == key[0],
                    MODELS.c.region == key[1],
                    MODELS.c.name == variant["ModelName"],
                )
            ).first()
        if model is None:
            raise WorkerFailed(f"Could not find model {variant['ModelName']}.")
        model_dir = deployment / variant["VariantName"]
        _extract_model(storage, model.primary_container, model_dir)
        specs.append(
            VariantSpec(
                variant["VariantName"],
                float(variant["InitialVariantWeight"]),
                variant["InitialInstanceCount"],
                model_dir,
            )
        )
    return specs


def _summaries(variants: list[dict[str, Any]], images: dict[str, str], count: bool) -> list[dict[str, Any]]:
    return [
        {
            "VariantName": variant["VariantName"],
            "DeployedImages": [{"SpecifiedImage": images.get(variant["ModelName"], "")}],
            "CurrentWeight": float(variant["InitialVariantWeight"]),
            "DesiredWeight": float(variant["InitialVariantWeight"]),
            "CurrentInstanceCount": variant["InitialInstanceCount"] if count else 0,
            "DesiredInstanceCount": variant["InitialInstanceCount"],
        }
        for variant in variants
    ]


def _images(storage: Storage, key: EndpointKey) -> dict[str, str]:
    with storage.database.engine.connect() as connection:
        rows = connection.execute(
            select(MODELS).where(MODELS.c.account_id == key[0], MODELS.c.region == key[1])
        )
        return {row.name: row.primary_container.get("Image", "") for row in rows}


def _deploy(storage: Storage, key: EndpointKey, config_name: str, variants: list[dict[str, Any]]) -> None:
    """Runs in the background: starts the workers and records the outcome."""
    values: dict[str, Any]
    try:
        pool.deploy(key, _variant_specs(storage, key, variants))
        values = {
            "status": "InService",
            "config_name": config_name,
            "failure_reason": None,
            "variants": _summaries(variants, _images(storage, key), count=True),
        }
    except WorkerFailed as error:
        reason = str(error)[:FAILURE_REASON_MAX]
        # a failed update leaves the old deployment serving, as AWS rolls back
        values = (
            {"status": "InService", "failure_reason": reason}
            if pool.serves(key)
            else {
                "status": "Failed",
                "failure_reason": reason,
            }
        )
    values["last_modified"] = datetime.now(UTC)
    with storage.database.engine.begin() as connection:
        recorded = connection.execute(update(ENDPOINTS).where(_where(key)).values(**values)).rowcount
    if not recorded:  # deleted while it was deploying
        pool.stop(key)


def _start_deploy(
    storage: Storage, key: EndpointKey, config_name: str, variants: list[dict[str, Any]]
) -> None:
    threading.Thread(
        target=_deploy, args=(storage, key, config_name, variants), name=f"deploy-{key[2]}", daemon=True
    ).start()


def ensure_serving(ctx: RequestContext, row: Any) -> None:
    """An InService endpoint whose workers are not running here (Nimbus restarted) gets them back."""
    key = endpoint_key(ctx, row.name)
    with _restoring:
        if pool.serves(key):
            return
        with ctx.storage.database.engine.connect() as connection:
            config = find_config(ctx, row.config_name, connection)
        pool.deploy(key, _variant_specs(ctx.storage, key, config.production_variants))


@sagemaker.operation
def create_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Each instance is a worker process on this machine serving the model on a loopback port."""
    name = request["EndpointName"]
    key = endpoint_key(ctx, name)
    now = datetime.now(UTC)
    try:
        with ctx.storage.database.engine.begin() as connection:
            config = find_config(ctx, request["EndpointConfigName"], connection)
            variants = config.production_variants
            connection.execute(
                insert(ENDPOINTS),
                {
                    "account_id": key[0],
                    "region": key[1],
                    "name": name,
                    "config_name": config.name,
                    "status": "Creating",
                    "failure_reason": None,
                    "variants": [],
                    "created_at": now,
                    "last_modified": now,
                },
            )
    except IntegrityError:
        arn = hosting_arn(ctx, "endpoint", name)
        raise validation(f'Cannot create already existing endpoint "{arn}".') from None
    shutil.rmtree(_endpoint_dir(ctx.storage, key), ignore_errors=True)
    _start_deploy(ctx.storage, key, config.name, variants)
    return {"EndpointArn": hosting_arn(ctx, "endpoint", name)}


@sagemaker.operation
def describe_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        row = find_endpoint(ctx, request["EndpointName"], connection)
    output = {
        "EndpointName": row.name,
        "EndpointArn": hosting_arn(ctx, "endpoint", row.name),
        "EndpointConfigName": row.config_name,
        "EndpointStatus": row.status,
        "CreationTime": row.created_at,
        "LastModifiedTime": row.last_modified,
    }
    if row.variants:
        output["ProductionVariants"] = row.variants
    if row.failure_reason:
        output["FailureReason"] = row.failure_reason
    return output


@sagemaker.operation
def list_endpoints(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    query = select(ENDPOINTS).where(
        ENDPOINTS.c.account_id == ctx.caller.account_id, ENDPOINTS.c.region == ctx.region
    )
    if request.get("StatusEquals"):
        query = query.where(ENDPOINTS.c.status == request["StatusEquals"])
    with ctx.storage.database.engine.connect() as connection:
        rows, token = page(sorted_rows(connection.execute(query).all(), request), request)
    output: dict[str, Any] = {
        "Endpoints": [
            {
                "EndpointName": row.name,
                "EndpointArn": hosting_arn(ctx, "endpoint", row.name),
                "CreationTime": row.created_at,
                "LastModifiedTime": row.last_modified,
                "EndpointStatus": row.status,
            }
            for row in rows
        ]
    }
    if token:
        output["NextToken"] = token
    return output


@sagemaker.operation
def update_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Blue/green in one step: the new configuration's workers all answer ``/ping`` before the old
    ones stop; DeploymentConfig and the RetainAllVariantProperties options are not applied."""
    key = endpoint_key(ctx, request["EndpointName"])
    with ctx.storage.database.engine.begin() as connection:
        row = find_endpoint(ctx, request["EndpointName"], connection)
        if row.status != "InService":
            arn = hosting_arn(ctx, "endpoint", row.name)
            raise validation(f'Cannot update in-progress endpoint "{arn}".')
        config = find_config(ctx, request["EndpointConfigName"], connection)
        connection.execute(
            update(ENDPOINTS).where(_where(key)).values(status="Updating", last_modified=datetime.now(UTC))
        )
    _start_deploy(ctx.storage, key, config.name, config.production_variants)
    return {"EndpointArn": hosting_arn(ctx, "endpoint", row.name)}


@sagemaker.operation
def delete_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The workers are stopped before the call returns."""
    key = endpoint_key(ctx, request["EndpointName"])
    with ctx.storage.database.engine.begin() as connection:
        find_endpoint(ctx, request["EndpointName"], connection)
        connection.execute(delete(ENDPOINTS).where(_where(key)))
    pool.stop(key)
    shutil.rmtree(_endpoint_dir(ctx.storage, key), ignore_errors=True)
    return {}
