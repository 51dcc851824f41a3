"""Endpoint configurations: the production variants (model, instance count, weight) an endpoint runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.models import (
    delete_hosting_row,
    find_model,
    hosting_arn,
    hosting_summaries,
    validation,
)
from nimbus.storage.sagemaker_hosting_schema import SageMakerEndpointConfigRecord

CONFIGS = SageMakerEndpointConfigRecord.__table__
DEFAULT_WEIGHT = 1.0


def find_config(ctx: RequestContext, name: str, connection: Connection) -> Any:
    row = connection.execute(
        select(CONFIGS).where(
            CONFIGS.c.account_id == ctx.caller.account_id,
            CONFIGS.c.region == ctx.region,
            CONFIGS.c.name == name,
        )
    ).first()
    if row is None:
        raise validation(
            f'Could not find endpoint configuration "{hosting_arn(ctx, "endpoint-config", name)}".'
        )
    return row


def _variants(
    ctx: RequestContext, variants: list[dict[str, Any]], connection: Connection
) -> list[dict[str, Any]]:
    names = [variant["VariantName"] for variant in variants]
    if len(set(names)) != len(names):
        raise validation(
            "Each production variant in an endpoint configuration must have a unique VariantName."
        )
    for variant in variants:
        find_model(ctx, variant["ModelName"], connection)
        if not variant.get("InitialInstanceCount"):
            raise validation("Nimbus runs instance-based variants: InitialInstanceCount is required.")
    return [
        {**variant, "InitialVariantWeight": variant.get("InitialVariantWeight", DEFAULT_WEIGHT)}
        for variant in variants
    ]


@sagemaker.operation
def create_endpoint_config(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Every variant runs its instances as worker processes on this machine; InstanceType is recorded,
    not provisioned, and serverless variants are refused."""
    name = request["EndpointConfigName"]
    try:
        with ctx.storage.database.engine.begin() as connection:
            variants = _variants(ctx, request["ProductionVariants"], connection)
            connection.execute(
                insert(CONFIGS),
                {
                    "account_id": ctx.caller.account_id,
                    "region": ctx.region,
                    "name": name,
                    "production_variants": variants,
                    "created_at": datetime.now(UTC),
                    "tags": request.get("Tags") or [],
                },
            )
    except IntegrityError:
        arn = hosting_arn(ctx, "endpoint-config", name)
        raise validation(f'Cannot create already existing endpoint configuration "{arn}".') from None
    return {"EndpointConfigArn": hosting_arn(ctx, "endpoint-config", name)}


@sagemaker.operation
def describe_endpoint_config(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        row = find_config(ctx, request["EndpointConfigName"], connection)
    return {
        "EndpointConfigName": row.name,
        "EndpointConfigArn": hosting_arn(ctx, "endpoint-config", row.name),
        "ProductionVariants": row.production_variants,
        "CreationTime": row.created_at,
    }


@sagemaker.operation
def list_endpoint_configs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    members = ("EndpointConfigs", "EndpointConfigName", "EndpointConfigArn")
    return hosting_summaries(ctx, request, CONFIGS, "endpoint-config", members)


@sagemaker.operation
def delete_endpoint_config(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        delete_hosting_row(connection, CONFIGS, find_config(ctx, request["EndpointConfigName"], connection))
    return {}
