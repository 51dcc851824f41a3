"""The List*Jobs operations' shared part: SageMaker's name, status and time filters, its sorting and
its paging over a job table, in the database."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.engine import Row

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker.errors import validation_error

DEFAULT_PAGE_SIZE = 10
Condition = Callable[[Any], ColumnElement[bool]]


def list_jobs(
    ctx: RequestContext,
    table: Table,
    request: dict[str, Any],
    summary: Callable[[Row[Any]], dict[str, Any]],
    member: str,
    extra_filters: dict[str, Condition] | None = None,
) -> dict[str, Any]:
    """One page of the caller's jobs as ``member``; ``extra_filters`` adds the operation's own."""
    query = select(table).where(table.c.account_id == ctx.caller.account_id, table.c.region == ctx.region)
    filters: dict[str, Condition] = {
        "NameContains": lambda value: table.c.name.contains(value, autoescape=True),
        "StatusEquals": lambda value: table.c.status == value,
        "CreationTimeAfter": lambda value: table.c.created_at > value,
        "CreationTimeBefore": lambda value: table.c.created_at < value,
        "LastModifiedTimeAfter": lambda value: table.c.last_modified > value,
        "LastModifiedTimeBefore": lambda value: table.c.last_modified < value,
        **(extra_filters or {}),
    }
    for name, condition in filters.items():
        if request.get(name) is not None:
            query = query.where(condition(request[name]))
    sorted_by = {"Name": "name", "Status": "status", "LastModifiedTime": "last_modified"}
    column = table.c[sorted_by.get(request.get("SortBy") or "", "created_at")]
    ascending = request.get("SortOrder") == "Ascending"
    query = query.order_by(column if ascending else column.desc(), table.c.name)
    offset = token_offset(request.get("NextToken"))
    page_size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query.offset(offset).limit(page_size + 1)).all()
    output: dict[str, Any] = {member: [summary(row) for row in rows[:page_size]]}
    if len(rows) > page_size:
        output["NextToken"] = offset_token(offset + page_size)
    return output


def offset_token(offset: int) -> str:
    """The NextToken of the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def token_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise validation_error("Invalid pagination token.") from None
