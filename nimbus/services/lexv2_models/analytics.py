"""Analytics from the conversation log the Lex runtime keeps (every turn, with its session, intent and
state): the utterances as they were heard (ListUtteranceAnalyticsData) and intent metrics
(ListIntentMetrics) over a time window, filtered, grouped and binned by hour or day.

An intent, for the metrics, is one stretch of a session's turns on the same intent; it ends in the
state of its last turn: a success when Fulfilled or ReadyForFulfillment, a failure when Failed,
switched when the session went on to another intent while it was in progress, dropped when the
session ended there. Statistics: Sum counts them; Avg is their share of the bin's intents (for
Count, the count); Max is 1 when any intent of the bin is one (for Count, the count). Only the EQ
filter operator is served. The log is live: AWS's delay of up to an hour does not apply."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import select

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import invalid
from nimbus.services.lexv2_models.paging import page
from nimbus.services.lexv2_models.records import find_bot, transaction
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_workbench_schema import LexConversationTurnRecord

TURNS = LexConversationTurnRecord.__table__
_FILTER_COLUMNS = {
    "BotAliasId": "bot_alias_id",
    "BotVersion": "bot_version",
    "LocaleId": "locale_id",
    "Modality": "input_mode",
    "Channel": "channel",
    "SessionId": "session_id",
    "OriginatingRequestId": "request_id",
    "UtteranceText": "utterance",
    "IntentName": "intent_name",
}
_SUCCESS = ("Fulfilled", "ReadyForFulfillment")


def _turns(ctx: RequestContext, request: dict[str, Any]) -> list[Any]:
    start, end = request["startDateTime"], request["endDateTime"]
    if start >= end:
        raise invalid("startDateTime must be before endDateTime.")
    columns = TURNS.c
    query = select(TURNS).where(
        columns.account_id == ctx.caller.account_id,
        columns.region == ctx.region,
        columns.bot_id == request["botId"],
        columns.recorded_at >= start,
        columns.recorded_at <= end,
    )
    for condition in request.get("filters") or []:
        if condition["operator"] != "EQ":
            raise invalid(f"Nimbus filters {condition['name']} with the EQ operator only.")
        if condition["name"] in _FILTER_COLUMNS:
            query = query.where(columns[_FILTER_COLUMNS[condition["name"]]].in_(condition["values"]))
    with transaction(ctx) as session:
        find_bot(session, ctx, request["botId"])
        return list(session.execute(query.order_by(columns.session_id, columns.id)).all())


def _wanted(request: dict[str, Any], name: str) -> list[str] | None:
    for condition in request.get("filters") or []:
        if condition["name"] == name:
            return list(condition["values"])
    return None


@lexv2_models.operation
def list_utterance_analytics_data(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Read from the conversation log at once (no delay); filters with EQ only; no audio durations,
    voice ids or bot responses per utterance."""
    rows = _turns(ctx, request)
    starts: dict[str, datetime] = {}
    ends: dict[str, datetime] = {}
    for row in rows:
        starts.setdefault(row.session_id, row.recorded_at)
        ends[row.session_id] = row.recorded_at
    utterances = [
        {
            "botAliasId": row.bot_alias_id,
            "botVersion": row.bot_version,
            "localeId": row.locale_id,
            "sessionId": row.session_id,
            "channel": row.channel,
            "mode": row.input_mode,
            "conversationStartTime": starts[row.session_id],
            "conversationEndTime": ends[row.session_id],
            "utterance": row.utterance,
            "utteranceTimestamp": row.recorded_at,
            "utteranceUnderstood": not row.missed,
            "associatedIntentName": row.intent_name,
            "intentState": row.intent_state,
            "dialogActionType": row.dialog_action,
            "utteranceRequestId": row.request_id,
        }
        for row in rows
    ]
    state = _wanted(request, "UtteranceState")
    if state:
        utterances = [
            u for u in utterances if ("Detected" if u["utteranceUnderstood"] else "Missed") in state
        ]
    descending = (request.get("sortBy") or {}).get("order") == "Descending"
    utterances.sort(key=lambda item: item["utteranceTimestamp"], reverse=descending)
    cleaned = [{name: value for name, value in item.items() if value is not None} for item in utterances]
    return {"botId": request["botId"], **page(cleaned, request, "utterances")}


def _intents(rows: list[Any]) -> list[dict[str, Any]]:
    """The intents of the sessions: stretches of turns on one intent, with how each ended."""
    found = []
    for _, session_rows in groupby(rows, key=lambda row: row.session_id):
        stretches = [list(turns) for _, turns in groupby(session_rows, key=lambda row: row.intent_name)]
        stretches = [turns for turns in stretches if turns[0].intent_name]
        for index, turns in enumerate(stretches):
            last = turns[-1]
            open_ended = last.intent_state not in (*_SUCCESS, "Failed")
            found.append(
                {
                    "name": last.intent_name,
                    "state": last.intent_state,
                    "started": turns[0].recorded_at,
                    "Success": last.intent_state in _SUCCESS,
                    "Failure": last.intent_state == "Failed",
                    "Switched": open_ended and index < len(stretches) - 1,
                    "Dropped": open_ended and index == len(stretches) - 1,
                }
            )
    return found


def _bin(moment: datetime, interval: str) -> int:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    truncated = moment.replace(minute=0, second=0, microsecond=0)
    if interval == "OneDay":
        truncated = truncated.replace(hour=0)
    return int(truncated.timestamp() * 1000)


@lexv2_models.operation
def list_intent_metrics(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Read from the conversation log at once (no delay); groups by IntentName and IntentEndState
    (not IntentLevel); filters with EQ only; bins start at the intent's first turn."""
    intents = _intents(_turns(ctx, request))
    end_states = _wanted(request, "IntentEndState")
    if end_states:
        intents = [intent for intent in intents if intent["state"] in end_states]
    bins = request.get("binBy") or []
    groups = [item["name"] for item in request.get("groupBy") or []]
    if "IntentLevel" in groups:
        raise invalid("Nimbus groups intent metrics by IntentName and IntentEndState.")
    buckets: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for intent in intents:
        key = tuple(_bin(intent["started"], spec["interval"]) for spec in bins) + tuple(
            intent["name"] if group == "IntentName" else intent["state"] for group in groups
        )
        buckets[key].append(intent)
    results = []
    for key, members in sorted(buckets.items(), key=lambda item: tuple(map(str, item[0]))):
        results.append(
            {
                "binKeys": [{"name": spec["name"], "value": key[index]} for index, spec in enumerate(bins)],
                "groupByKeys": [
                    {"name": group, "value": key[len(bins) + index]} for index, group in enumerate(groups)
                ],
                "metricsResults": [_metric(metric, members) for metric in request["metrics"]],
            }
        )
    return {"botId": request["botId"], **page(results, request, "results")}


def _metric(metric: dict[str, Any], members: list[dict[str, Any]]) -> dict[str, Any]:
    name, statistic = metric["name"], metric["statistic"]
    values = [1.0 if name == "Count" or member[name] else 0.0 for member in members]
    if statistic == "Sum":
        value = sum(values)
    elif name == "Count":
        value = float(len(values))
    elif statistic == "Max":
        value = max(values, default=0.0)
    else:
        value = sum(values) / len(values) if values else 0.0
    return {"name": name, "statistic": statistic, "value": value}
