"""The tables of scalable targets, and what the operations on them share."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import Table, select

from nimbus.services.application_autoscaling.errors import target_not_found, validation
from nimbus.services.registry import RequestContext
from nimbus.storage.monitoring_schema import ScalableTargetRecord

TARGETS = ScalableTargetRecord.__table__
DEFAULT_PAGE = 50


def target_where(ctx: RequestContext, namespace: str, resource_id: str, dimension: str) -> Any:
    return (
        (TARGETS.c.account_id == ctx.caller.account_id)
        & (TARGETS.c.region == ctx.region)
        & (TARGETS.c.service_namespace == namespace)
        & (TARGETS.c.resource_id == resource_id)
        & (TARGETS.c.scalable_dimension == dimension)
    )


def find_target(ctx: RequestContext, namespace: str, resource_id: str, dimension: str) -> Any:
    with ctx.storage.database.engine.connect() as connection:
        row = connection.execute(
            select(TARGETS).where(target_where(ctx, namespace, resource_id, dimension))
        ).first()
    if row is None:
        raise target_not_found(namespace, resource_id, dimension)
    return row


def page(ctx: RequestContext, query: Any, request: dict[str, Any]) -> tuple[list[Any], str | None]:
    """A page of the query's rows by MaxResults and NextToken (an offset)."""
    try:
        offset = (
            int(base64.urlsafe_b64decode(request["NextToken"].encode())) if request.get("NextToken") else 0
        )
    except ValueError:
        raise validation("The NextToken is not valid.") from None
    limit = request.get("MaxResults") or DEFAULT_PAGE
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.offset(offset).limit(limit + 1)).all()
    token = base64.urlsafe_b64encode(str(offset + limit).encode()).decode() if len(rows) > limit else None
    return rows[:limit], token


def described(
    ctx: RequestContext, table: Table, request: dict[str, Any], member: str, *order: Any
) -> dict[str, Any]:
    """A Describe* answer: the caller's rows of the request's ServiceNamespace, narrowed by its
    ResourceId (or ResourceIds) and ScalableDimension, a page of them under ``member``."""
    query = (
        select(table)
        .where(
            table.c.account_id == ctx.caller.account_id,
            table.c.region == ctx.region,
            table.c.service_namespace == request["ServiceNamespace"],
        )
        .order_by(*order)
    )
    if request.get("ResourceId"):
        query = query.where(table.c.resource_id == request["ResourceId"])
    if request.get("ResourceIds"):
        query = query.where(table.c.resource_id.in_(request["ResourceIds"]))
    if request.get("ScalableDimension"):
        query = query.where(table.c.scalable_dimension == request["ScalableDimension"])
    if request.get("PolicyNames"):
        query = query.where(table.c.name.in_(request["PolicyNames"]))
    rows, token = page(ctx, query, request)
    return {member: rows, **({"NextToken": token} if token else {})}


def target_columns(ctx: RequestContext, namespace: str, resource_id: str, dimension: str) -> dict[str, str]:
    """The columns that name a target, for a new row of any of the three tables."""
    return {
        "account_id": ctx.caller.account_id,
        "region": ctx.region,
        "service_namespace": namespace,
        "resource_id": resource_id,
        "scalable_dimension": dimension,
    }
