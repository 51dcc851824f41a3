"""SageMaker models: the container (image, model artifact in S3, environment) an endpoint runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.containers import check_container_image, is_container_image
from nimbus.services.sagemaker.images import serving_framework
from nimbus.services.sagemaker.recommendations.records import deployment_recommendation
from nimbus.storage.sagemaker_hosting_schema import SageMakerModelRecord

MODELS = SageMakerModelRecord.__table__
DEFAULT_PAGE_SIZE = 10


def hosting_arn(ctx: RequestContext, kind: str, name: str) -> str:
    """SageMaker's ARNs carry the resource name in lower case."""
    return f"arn:aws:sagemaker:{ctx.region}:{ctx.caller.account_id}:{kind}/{name.lower()}"


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)


def split_s3_url(url: str) -> tuple[str, str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket or not key:
        raise validation(f"Could not access model data at {url}. Please ensure that it is an S3 object URL.")
    return bucket, key


def find_model(ctx: RequestContext, name: str, connection: Connection) -> Any:
    row = connection.execute(
        select(MODELS).where(
            MODELS.c.account_id == ctx.caller.account_id, MODELS.c.region == ctx.region, MODELS.c.name == name
        )
    ).first()
    if row is None:
        raise validation(f'Could not find model "{hosting_arn(ctx, "model", name)}".')
    return row


def page(rows: Sequence[Any], request: dict[str, Any]) -> tuple[Sequence[Any], str | None]:
    """One page of already filtered and sorted rows; the token is the offset of the next page."""
    token = request.get("NextToken")
    start = int(token) if token and token.isdigit() else 0
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    following = start + size
    return rows[start:following], str(following) if following < len(rows) else None


def sorted_rows(rows: Sequence[Any], request: dict[str, Any], name_field: str = "name") -> list[Any]:
    """Rows filtered by NameContains and CreationTime bounds, sorted by SortBy/SortOrder."""
    contains = (request.get("NameContains") or "").lower()
    after, before = request.get("CreationTimeAfter"), request.get("CreationTimeBefore")
    kept = [
        row
        for row in rows
        if contains in getattr(row, name_field).lower()
        and (after is None or row.created_at > after)
        and (before is None or row.created_at < before)
    ]
    by_name = request.get("SortBy") == "Name"
    descending = request.get("SortOrder", "Descending") == "Descending"
    return sorted(
        kept, key=lambda row: getattr(row, name_field) if by_name else row.created_at, reverse=descending
    )


def hosting_summaries(
    ctx: RequestContext, request: dict[str, Any], table: Table, kind: str, members: tuple[str, str, str]
) -> dict[str, Any]:
    """A List* answer over the caller's rows of ``table``: sorted and paged as the request asks;
    ``members`` names the list, and each summary's name and ARN members."""
    list_member, name_member, arn_member = members
    query = select(table).where(table.c.account_id == ctx.caller.account_id, table.c.region == ctx.region)
    with ctx.storage.database.engine.connect() as connection:
        rows, token = page(sorted_rows(connection.execute(query).all(), request), request)
    summaries = [
        {name_member: row.name, arn_member: hosting_arn(ctx, kind, row.name), "CreationTime": row.created_at}
        for row in rows
    ]
    return {list_member: summaries, **({"NextToken": token} if token else {})}


def delete_hosting_row(connection: Connection, table: Table, row: Any) -> None:
    connection.execute(
        delete(table).where(
            table.c.account_id == row.account_id, table.c.region == row.region, table.c.name == row.name
        )
    )


def _container(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    containers = request.get("Containers") or []
    container = request.get("PrimaryContainer") or (containers[0] if len(containers) == 1 else None)
    if container is None:
        raise validation("Either PrimaryContainer or exactly one of Containers must be provided.")
    image = container.get("Image", "")
    if is_container_image(ctx.storage, image, ctx.caller.account_id, ctx.region):
        check_container_image(ctx.storage, image, ctx.caller.account_id, ctx.region)
        if container.get("ModelDataUrl"):  # the user's image may hold its model itself
            split_s3_url(container["ModelDataUrl"])
        return container
    if not container.get("ModelDataUrl"):
        raise validation("Nimbus serves models from a ModelDataUrl (a model.tar.gz in S3).")
    split_s3_url(container["ModelDataUrl"])
    serving_framework(image, container.get("Environment") or {})
    return container


@sagemaker.operation
def create_model(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Nimbus serves the built-in algorithms' models (chosen by the artifact's files), in script
    mode the scikit-learn, XGBoost and PyTorch framework images, and any image of its registry in a
    container (``serve`` on port 8080; no network with EnableNetworkIsolation); an image it cannot
    run is refused here. One container per model (PrimaryContainer, or Containers with one entry)."""
    row = {
        "account_id": ctx.caller.account_id,
        "region": ctx.region,
        "name": request["ModelName"],
        "primary_container": _container(ctx, request),
        "execution_role_arn": request.get("ExecutionRoleArn"),
        "enable_network_isolation": bool(request.get("EnableNetworkIsolation")),
        "created_at": datetime.now(UTC),
        "tags": request.get("Tags") or [],
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            connection.execute(insert(MODELS), row)
    except IntegrityError:
        arn = hosting_arn(ctx, "model", request["ModelName"])
        raise validation(f'Cannot create already existing model "{arn}".') from None
    return {"ModelArn": hosting_arn(ctx, "model", request["ModelName"])}


@sagemaker.operation
def describe_model(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """DeploymentRecommendation comes from the model's latest Inference Recommender job
    (NOT_APPLICABLE when none ran): Nimbus starts no recommendation of its own at CreateModel."""
    with ctx.storage.database.engine.connect() as connection:
        row = find_model(ctx, request["ModelName"], connection)
    output = {
        "ModelName": row.name,
        "PrimaryContainer": row.primary_container,
        "CreationTime": row.created_at,
        "ModelArn": hosting_arn(ctx, "model", row.name),
        "EnableNetworkIsolation": row.enable_network_isolation,
    }
    if row.execution_role_arn:
        output["ExecutionRoleArn"] = row.execution_role_arn
    output["DeploymentRecommendation"] = deployment_recommendation(
        ctx.storage, ctx.caller.account_id, ctx.region, row.name
    )
    return output


@sagemaker.operation
def list_models(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return hosting_summaries(ctx, request, MODELS, "model", ("Models", "ModelName", "ModelArn"))


@sagemaker.operation
def delete_model(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        delete_hosting_row(connection, MODELS, find_model(ctx, request["ModelName"], connection))
    return {}
