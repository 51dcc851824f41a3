"""Log events in the database: how jobs append the lines they print, and the helpers reads share."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.sql import Select

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.storage import Storage
from nimbus.storage.training_schema import LogEventRecord

EVENTS = LogEventRecord.__table__


def append_events(
    storage: Storage, account_id: str, region: str, group: str, stream: str, lines: Sequence[tuple[int, str]]
) -> None:
    """Stores ``(timestamp in ms, message)`` lines in one transaction, in order."""
    if not lines:
        return
    base = {"account_id": account_id, "region": region, "log_group": group, "log_stream": stream}
    rows = [
        {**base, "timestamp": when, "ingestion_time": when, "message": message} for when, message in lines
    ]
    with storage.database.engine.begin() as connection:
        connection.execute(insert(EVENTS), rows)


def group_events(ctx: RequestContext, group: str) -> Select:
    """The group's events; ResourceNotFoundException when it has none (no job ever wrote there)."""
    query = select(EVENTS).where(
        EVENTS.c.account_id == ctx.caller.account_id,
        EVENTS.c.region == ctx.region,
        EVENTS.c.log_group == group,
    )
    with ctx.storage.database.engine.connect() as connection:
        if connection.execute(query.limit(1)).first() is None:
            raise AwsError("ResourceNotFoundException", "The specified log group does not exist.", 400)
    return query


def encode_token(prefix: str, value: int) -> str:
    return f"{prefix}/" + base64.urlsafe_b64encode(str(value).encode()).decode()


def decode_token(token: str, prefixes: str) -> tuple[str, int]:
    prefix, _, value = token.partition("/")
    try:
        if prefix not in prefixes:
            raise ValueError(prefix)
        return prefix, int(base64.urlsafe_b64decode(value.encode()).decode())
    except ValueError:
        raise AwsError("InvalidParameterException", "The specified nextToken is invalid.", 400) from None
