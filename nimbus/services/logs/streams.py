"""DescribeLogStreams: the streams of a log group, from the events written to them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from nimbus.services.logs import logs
from nimbus.services.logs.records import decode_token, encode_token, group_events
from nimbus.services.registry import RequestContext

DEFAULT_LIMIT = 50


@logs.operation
def describe_log_streams(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A stream exists once something has been written to it (Nimbus's jobs create their own);
    `storedBytes` is the size of the messages."""
    group = request["logGroupName"]
    events = group_events(ctx, group).subquery()
    query = select(
        events.c.log_stream,
        func.min(events.c.timestamp).label("first"),
        func.max(events.c.timestamp).label("last"),
        func.max(events.c.ingestion_time).label("ingested"),
        func.sum(func.length(events.c.message)).label("size"),
    ).group_by(events.c.log_stream)
    prefix = request.get("logStreamNamePrefix") or request.get("logStreamNamePattern")
    if prefix:
        query = query.where(events.c.log_stream.startswith(prefix, autoescape=True))
    by_time = request.get("orderBy") == "LastEventTime"
    order = [query.selected_columns.last, events.c.log_stream] if by_time else [events.c.log_stream]
    query = query.order_by(*(column.desc() if request.get("descending") else column for column in order))
    offset = decode_token(request["nextToken"], "n")[1] if request.get("nextToken") else 0
    limit = request.get("limit") or DEFAULT_LIMIT
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.offset(offset).limit(limit + 1)).all()
    output: dict[str, Any] = {"logStreams": [_stream(ctx, group, row) for row in rows[:limit]]}
    if len(rows) > limit:
        output["nextToken"] = encode_token("n", offset + limit)
    return output


def _stream(ctx: RequestContext, group: str, row: Any) -> dict[str, Any]:
    arn = f"arn:aws:logs:{ctx.region}:{ctx.caller.account_id}:log-group:{group}:log-stream:{row.log_stream}"
    return {
        "logStreamName": row.log_stream,
        "creationTime": row.first,
        "firstEventTimestamp": row.first,
        "lastEventTimestamp": row.last,
        "lastIngestionTime": row.ingested,
        "arn": arn,
        "storedBytes": int(row.size or 0),
    }
