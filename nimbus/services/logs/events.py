"""GetLogEvents and FilterLogEvents: reading the lines a stream holds."""

from __future__ import annotations

import shlex
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.sql import Select

from nimbus.services.logs import logs
from nimbus.services.logs.records import EVENTS, decode_token, encode_token, group_events
from nimbus.services.registry import RequestContext

DEFAULT_LIMIT = 10_000


@logs.operation
def get_log_events(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Tokens are positions in the stream, as on AWS: the forward token comes back unchanged at the end."""
    query = _in_window(group_events(ctx, request["logGroupName"]), request)
    query = query.where(EVENTS.c.log_stream == request["logStreamName"])
    limit = request.get("limit") or DEFAULT_LIMIT
    direction, position = _position(request)
    if direction == "f":
        query = query.where(EVENTS.c.id > position).order_by(EVENTS.c.id)
    else:
        query = query.order_by(EVENTS.c.id.desc())
        if position is not None:
            query = query.where(EVENTS.c.id < position)
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.limit(limit)).all()
    rows = sorted(rows, key=lambda row: row.id)
    first = rows[0].id if rows else (position or 0)
    last = rows[-1].id if rows else (position or 0)
    return {
        "events": [_event(row) for row in rows],
        "nextForwardToken": encode_token("f", last if rows or direction == "f" else first - 1),
        "nextBackwardToken": encode_token("b", first),
    }


def _position(request: dict[str, Any]) -> tuple[str, int | None]:
    """Which way to read and from where: a token says it; without one, from the head or the tail."""
    if request.get("nextToken"):
        return decode_token(request["nextToken"], "fb")
    return ("f", 0) if request.get("startFromHead") else ("b", None)


@logs.operation
def filter_log_events(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """`filterPattern` supports terms and quoted phrases, all of which must appear in the message
    (case-sensitive); JSON and space-delimited metric filter syntax is not supported."""
    query = _in_window(group_events(ctx, request["logGroupName"]), request)
    if request.get("logStreamNames"):
        query = query.where(EVENTS.c.log_stream.in_(request["logStreamNames"]))
    elif request.get("logStreamNamePrefix"):
        query = query.where(EVENTS.c.log_stream.startswith(request["logStreamNamePrefix"], autoescape=True))
    for term in shlex.split(request.get("filterPattern") or ""):
        query = query.where(EVENTS.c.message.contains(term, autoescape=True))
    after = decode_token(request["nextToken"], "n")[1] if request.get("nextToken") else 0
    limit = request.get("limit") or DEFAULT_LIMIT
    query = query.where(EVENTS.c.id > after).order_by(EVENTS.c.id).limit(limit + 1)
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query).all()
    page = rows[:limit]
    streams = sorted({row.log_stream for row in page})
    output: dict[str, Any] = {
        "events": [{**_event(row), "logStreamName": row.log_stream, "eventId": str(row.id)} for row in page],
        "searchedLogStreams": [{"logStreamName": name, "searchedCompletely": True} for name in streams],
    }
    if len(rows) > limit:
        output["nextToken"] = encode_token("n", page[-1].id)
    return output


def _in_window(query: Select, request: dict[str, Any]) -> Select:
    if request.get("startTime") is not None:
        query = query.where(EVENTS.c.timestamp >= request["startTime"])
    if request.get("endTime") is not None:
        query = query.where(EVENTS.c.timestamp <= request["endTime"])
    return query


def _event(row: Row[Any]) -> dict[str, Any]:
    return {"timestamp": row.timestamp, "message": row.message, "ingestionTime": row.ingestion_time}
