"""ListAggregatedUtterances: what users said to a bot alias or version, grouped by the text, with how
often it activated an intent or slot (hit) and how often it did not (missed), over Lex's time windows.
The utterances are those the Lex runtime records as it converses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, case, func, select

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import invalid
from nimbus.services.lexv2_models.records import find_bot, transaction
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_runtime_schema import LexUtteranceRecord

UTTERANCES = LexUtteranceRecord.__table__
DEFAULT_PAGE_SIZE = 1000
# the windows Lex offers: timeDimension -> allowed timeValues
WINDOWS = {"Hours": (1, 3, 6, 12, 24), "Days": (3,), "Weeks": (1, 2)}
_UNIT = {"Hours": timedelta(hours=1), "Days": timedelta(days=1), "Weeks": timedelta(weeks=1)}
_SORT_COLUMNS = {"HitCount": "hit_count", "MissedCount": "missed_count"}


@lexv2_models.operation
def list_aggregated_utterances(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Statistics are live: the window ends at the time of the request (AWS refreshes them every
    half hour to daily), and ``aggregationLastRefreshedDateTime`` is that time."""
    window = request["aggregationDuration"]["relativeAggregationDuration"]
    dimension, value = window["timeDimension"], window["timeValue"]
    if value not in WINDOWS[dimension]:
        allowed = ", ".join(map(str, WINDOWS[dimension]))
        raise invalid(f"timeValue {value} is not valid for timeDimension {dimension}; use one of {allowed}.")
    if bool(request.get("botAliasId")) == bool(request.get("botVersion")):
        raise invalid("Specify either botAliasId or botVersion, not both and not neither.")
    end = ctx.received_at
    start = end - _UNIT[dimension] * value
    offset = _offset(request.get("nextToken"))
    page_size = request.get("maxResults") or DEFAULT_PAGE_SIZE
    query = _summary_query(ctx, request, start, end).offset(offset).limit(page_size + 1)
    with transaction(ctx) as session:
        find_bot(session, ctx, request["botId"])
        rows = session.execute(query).all()
    output: dict[str, Any] = {
        "botId": request["botId"],
        "localeId": request["localeId"],
        "aggregationDuration": request["aggregationDuration"],
        "aggregationWindowStartTime": start,
        "aggregationWindowEndTime": end,
        "aggregationLastRefreshedDateTime": end,
        "aggregatedUtterancesSummaries": [_summary(row) for row in rows[:page_size]],
    }
    for name in ("botAliasId", "botVersion"):
        if request.get(name):
            output[name] = request[name]
    if len(rows) > page_size:
        output["nextToken"] = str(offset + page_size)
    return output


def _summary_query(ctx: RequestContext, request: dict[str, Any], start: Any, end: Any) -> Any:
    columns = UTTERANCES.c
    missed = func.sum(case((columns.missed, 1), else_=0)).cast(Integer)
    hits = func.sum(case((columns.missed, 0), else_=1)).cast(Integer)
    query = (
        select(
            columns.utterance,
            hits.label("hit_count"),
            missed.label("missed_count"),
            func.min(columns.recorded_at).label("first_recorded"),
            func.max(columns.recorded_at).label("last_recorded"),
        )
        .where(
            columns.account_id == ctx.caller.account_id,
            columns.region == ctx.region,
            columns.bot_id == request["botId"],
            columns.locale_id == request["localeId"],
            columns.recorded_at >= start,
            columns.recorded_at <= end,
        )
        .group_by(columns.utterance)
    )
    if request.get("botAliasId"):
        query = query.where(columns.bot_alias_id == request["botAliasId"])
    else:
        query = query.where(columns.bot_version == request["botVersion"])
    for item in request.get("filters") or []:
        text = item["values"][0]
        query = query.where(
            columns.utterance == text
            if item["operator"] == "EQ"
            else columns.utterance.contains(text, autoescape=True)
        )
    sort = request.get("sortBy")
    if sort is not None:
        column = _SORT_COLUMNS[sort["attribute"]]
        key = query.selected_columns[column]
        query = query.order_by(key.desc() if sort["order"] == "Descending" else key.asc(), columns.utterance)
    else:
        query = query.order_by(columns.utterance)
    return query


def _summary(row: Any) -> dict[str, Any]:
    return {
        "utterance": row.utterance,
        "hitCount": row.hit_count,
        "missedCount": row.missed_count,
        "utteranceFirstRecordedInAggregationDuration": row.first_recorded,
        "utteranceLastRecordedInAggregationDuration": row.last_recorded,
        "containsDataFromDeletedResources": False,
    }


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    if not token.isdigit():
        raise invalid("The nextToken is not valid.")
    return int(token)
