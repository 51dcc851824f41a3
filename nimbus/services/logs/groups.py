"""DescribeLogGroups: the log groups something has written to (Nimbus's jobs create their own)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from nimbus.services.logs import logs
from nimbus.services.logs.records import EVENTS, decode_token, encode_token
from nimbus.services.registry import RequestContext

DEFAULT_LIMIT = 50


@logs.operation
def describe_log_groups(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Every group is STANDARD class without retention, KMS key or metric filters; `creationTime` is
    its first event's time and `storedBytes` the size of its messages. There are no linked
    accounts: includeLinkedAccounts and accountIdentifiers list the caller's own groups only."""
    query = (
        select(
            EVENTS.c.log_group,
            func.min(EVENTS.c.timestamp).label("first"),
            func.sum(func.length(EVENTS.c.message)).label("size"),
        )
        .where(EVENTS.c.account_id == ctx.caller.account_id, EVENTS.c.region == ctx.region)
        .group_by(EVENTS.c.log_group)
        .order_by(EVENTS.c.log_group)
    )
    if request.get("logGroupNamePrefix"):
        query = query.where(EVENTS.c.log_group.startswith(request["logGroupNamePrefix"], autoescape=True))
    if request.get("logGroupNamePattern"):  # a case-insensitive substring, as in CloudWatch Logs
        query = query.where(
            func.lower(EVENTS.c.log_group).contains(request["logGroupNamePattern"].lower(), autoescape=True)
        )
    if request.get("logGroupIdentifiers"):  # names or ARNs (``...:log-group:NAME[:*]``)
        names = [
            identifier.split(":log-group:", 1)[-1].removesuffix(":*")
            for identifier in request["logGroupIdentifiers"]
        ]
        query = query.where(EVENTS.c.log_group.in_(names))
    if request.get("logGroupClass") not in (None, "STANDARD"):
        return {"logGroups": []}
    offset = decode_token(request["nextToken"], "g")[1] if request.get("nextToken") else 0
    limit = request.get("limit") or DEFAULT_LIMIT
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.offset(offset).limit(limit + 1)).all()
    output: dict[str, Any] = {"logGroups": [_group(ctx, row) for row in rows[:limit]]}
    if len(rows) > limit:
        output["nextToken"] = encode_token("g", offset + limit)
    return output


def _group(ctx: RequestContext, row: Any) -> dict[str, Any]:
    arn = f"arn:aws:logs:{ctx.region}:{ctx.caller.account_id}:log-group:{row.log_group}"
    return {
        "logGroupName": row.log_group,
        "creationTime": row.first,
        "metricFilterCount": 0,
        "arn": f"{arn}:*",
        "logGroupArn": arn,
        "storedBytes": int(row.size or 0),
        "logGroupClass": "STANDARD",
    }
