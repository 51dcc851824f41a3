"""PutMetricData, GetMetricStatistics, GetMetricData and ListMetrics."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from nimbus.services.monitoring import cloudwatch
from nimbus.services.monitoring.datapoints import (
    FINEST_RESOLUTION,
    METRICS,
    Batch,
    Datapoint,
    MetricId,
    Statistics,
    datapoints,
    store,
)
from nimbus.services.monitoring.errors import invalid_combination, invalid_value, missing_parameter
from nimbus.services.registry import RequestContext

MAX_DATAPOINTS = 1440  # GetMetricStatistics' limit per call
MAX_VALUES = 150  # per MetricDatum
MAX_DATA = 1000  # MetricDatum per PutMetricData
PAST_LIMIT = timedelta(days=14)
FUTURE_LIMIT = timedelta(hours=2)
# CloudWatch refuses values of magnitude beyond 2^360 or below 2^-260 (other than 0)
LARGEST, SMALLEST = 2.0**360, 2.0**-260
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
LIST_PAGE = 500
DEFAULT_UNIT = "None"
RECENTLY_ACTIVE = timedelta(hours=3)


@cloudwatch.operation
def put_metric_data(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Values, value/count arrays and statistic sets. Every datum is kept per second for three hours
    (whatever its StorageResolution), then per minute for 15 days, per hour until 455 days, and then
    dropped. Percentiles are not kept. EntityMetricData (entity-linked metrics) is refused."""
    namespace = request["Namespace"]
    if namespace.startswith("AWS/"):
        raise invalid_value(f"The value {namespace} for parameter Namespace is invalid.")
    if request.get("EntityMetricData"):
        raise invalid_value("Nimbus does not link metrics to entities: EntityMetricData is not supported.")
    data = request.get("MetricData") or []
    if not data:
        raise missing_parameter("The parameter MetricData is required.")
    if len(data) > MAX_DATA:
        raise invalid_value(f"The collection MetricData must not have a size greater than {MAX_DATA}.")
    batch = Batch()
    for index, datum in enumerate(data, 1):
        metric = MetricId.of(
            ctx.caller.account_id, ctx.region, namespace, datum["MetricName"], datum.get("Dimensions") or []
        )
        where = f"MetricData.member.{index}"
        _check_dimensions(datum.get("Dimensions") or [], where)
        resolution = datum.get("StorageResolution", 60)
        if resolution not in (1, 60):
            raise invalid_value(f"The value {resolution} for parameter {where}.StorageResolution is invalid.")
        at = _datum_time(ctx, datum, where)
        batch.add(
            metric, datum.get("Unit") or DEFAULT_UNIT, at, FINEST_RESOLUTION, _datum_statistics(datum, where)
        )
    store(ctx.storage, batch, ctx.received_at)
    return {}


def _check_dimensions(dimensions: list[dict[str, str]], where: str) -> None:
    names = [item["Name"] for item in dimensions]
    if len(set(names)) != len(names):
        raise invalid_value(f"The parameter {where}.Dimensions must not name a dimension twice.")


def _datum_time(ctx: RequestContext, datum: dict[str, Any], where: str) -> datetime:
    at: datetime = datum.get("Timestamp") or ctx.received_at
    if not ctx.received_at - PAST_LIMIT <= at <= ctx.received_at + FUTURE_LIMIT:
        raise invalid_value(
            f"The parameter {where}.Timestamp must specify a time no more than two weeks in the past "
            "and no more than two hours in the future."
        )
    return at


def _datum_statistics(datum: dict[str, Any], where: str) -> Statistics:
    given = [name for name in ("Value", "StatisticValues", "Values") if name in datum]
    if len(given) > 1:
        raise invalid_combination(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive "
            "and you have specified both."
        )
    if not given:
        raise missing_parameter(f"The parameter {where}.Value is required.")
    stats = Statistics()
    if "Value" in datum:
        stats.add(_checked(datum["Value"], f"{where}.Value"))
    elif "StatisticValues" in datum:
        values = datum["StatisticValues"]
        for name in ("Sum", "Minimum", "Maximum"):
            _checked(values[name], f"{where}.StatisticValues.{name}")
        if values["SampleCount"] <= 0 or values["Minimum"] > values["Maximum"]:
            raise invalid_value(
                f"The parameter {where}.StatisticValues must have a SampleCount above 0 and a Minimum "
                "no greater than its Maximum."
            )
        stats.merge(Statistics(values["SampleCount"], values["Sum"], values["Minimum"], values["Maximum"]))
    else:
        values, counts = datum["Values"], datum.get("Counts") or [1.0] * len(datum["Values"])
        if len(values) > MAX_VALUES:
            raise invalid_value(f"The parameter {where}.Values must have at most {MAX_VALUES} values.")
        if len(counts) != len(values):
            raise invalid_value(f"The parameters {where}.Values and {where}.Counts must be of the same size.")
        for position, (value, count) in enumerate(zip(values, counts, strict=True), 1):
            stats.add(_checked(value, f"{where}.Values.member.{position}"), count)
    return stats


def _checked(value: float, name: str) -> float:
    if math.isnan(value) or (value != 0 and not SMALLEST <= abs(value) <= LARGEST):
        raise invalid_value(f"The value {value} for parameter {name} is invalid.")
    return value


@cloudwatch.operation
def get_metric_statistics(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Percentiles (ExtendedStatistics) are not kept: Nimbus stores each bucket's sample count, sum,
    minimum and maximum, so a request for them is refused."""
    statistics = request.get("Statistics") or []
    if request.get("ExtendedStatistics"):
        raise invalid_value("Nimbus keeps no percentiles: ExtendedStatistics is not supported.")
    if not statistics:
        raise missing_parameter("Must specify either Statistics or ExtendedStatistics.")
    start, end, period = request["StartTime"], request["EndTime"], request["Period"]
    _check_window(start, end, period, "Period")
    requested = math.ceil((end - start).total_seconds() / period)
    if requested > MAX_DATAPOINTS:
        raise invalid_combination(
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing Period, or "
            "decreasing the time range."
        )
    metric = MetricId.of(
        ctx.caller.account_id,
        ctx.region,
        request["Namespace"],
        request["MetricName"],
        request.get("Dimensions") or [],
    )
    found = datapoints(ctx.storage, metric, start, end, period, request.get("Unit"))
    return {"Label": request["MetricName"], "Datapoints": [_datapoint(point, statistics) for point in found]}


def _check_window(start: datetime, end: datetime, period: int, period_name: str) -> None:
    if start >= end:
        raise invalid_value("The parameter StartTime must be less than the parameter EndTime.")
    if period not in (1, 5, 10, 30) and period % 60:
        raise invalid_value(f"The parameter {period_name} must be 1, 5, 10, 30 or a multiple of 60.")


def _datapoint(point: Datapoint, statistics: list[str]) -> dict[str, Any]:
    output: dict[str, Any] = {"Timestamp": datetime.fromtimestamp(point.start, UTC), "Unit": point.unit}
    output.update({name: point.statistic(name) for name in statistics})
    return output


@cloudwatch.operation
def get_metric_data(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """MetricStat queries with the statistics SampleCount, Average, Sum, Minimum and Maximum.
    Metric math (Expression) and percentile statistics are not evaluated: such queries are refused.
    Every datapoint comes in one answer: MaxDatapoints, NextToken and LabelOptions are not applied."""
    start, end = request["StartTime"], request["EndTime"]
    queries = request["MetricDataQueries"]
    for index, query in enumerate(queries, 1):
        _check_query(query, index)
    ids = [query["Id"] for query in queries]
    if len(set(ids)) != len(ids):
        raise invalid_value("The values of MetricDataQueries.member.N.Id must be unique.")
    descending = request.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    results = []
    for query in queries:
        if query.get("ReturnData", True) is False:
            continue
        stat = query["MetricStat"]
        _check_window(start, end, stat["Period"], "MetricStat.Period")
        found = datapoints(
            ctx.storage, _stat_metric(ctx, stat["Metric"]), start, end, stat["Period"], stat.get("Unit")
        )
        points = sorted(found, key=lambda point: point.start, reverse=descending)
        results.append(
            {
                "Id": query["Id"],
                "Label": query.get("Label") or stat["Metric"]["MetricName"],
                "Timestamps": [datetime.fromtimestamp(point.start, UTC) for point in points],
                "Values": [point.statistic(stat["Stat"]) for point in points],
                "StatusCode": "Complete",
            }
        )
    return {"MetricDataResults": results, "Messages": []}


def _check_query(query: dict[str, Any], index: int) -> None:
    where = f"MetricDataQueries.member.{index}"
    if not query["Id"][:1].islower() or not query["Id"].replace("_", "a").isalnum():
        raise invalid_value(
            f"The value {query['Id']} for parameter {where}.Id is invalid: it must start with a lowercase "
            "letter and hold only letters, numbers and underscores."
        )
    if "Expression" in query:
        raise invalid_value(f"Nimbus does not evaluate metric math: {where}.Expression is not supported.")
    if "MetricStat" not in query:
        raise missing_parameter(f"The parameter {where}.MetricStat is required.")
    if query["MetricStat"]["Stat"] not in STATISTICS:
        raise invalid_value(
            f"The value {query['MetricStat']['Stat']} for parameter {where}.MetricStat.Stat is invalid: "
            f"Nimbus serves {', '.join(STATISTICS)}."
        )


def _stat_metric(ctx: RequestContext, metric: dict[str, Any]) -> MetricId:
    if not metric.get("Namespace") or not metric.get("MetricName"):
        raise missing_parameter("A MetricStat's Metric needs a Namespace and a MetricName.")
    return MetricId.of(
        ctx.caller.account_id,
        ctx.region,
        metric["Namespace"],
        metric["MetricName"],
        metric.get("Dimensions") or [],
    )


@cloudwatch.operation
def list_metrics(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Metrics of the caller's account in the region, by namespace and name; no linked accounts."""
    query = select(METRICS).where(
        METRICS.c.account_id == ctx.caller.account_id, METRICS.c.region == ctx.region
    )
    if request.get("Namespace"):
        query = query.where(METRICS.c.namespace == request["Namespace"])
    if request.get("MetricName"):
        query = query.where(METRICS.c.metric_name == request["MetricName"])
    if request.get("RecentlyActive"):
        query = query.where(METRICS.c.last_put_at >= ctx.received_at - RECENTLY_ACTIVE)
    after = _decode_token(request["NextToken"]) if request.get("NextToken") else 0
    query = query.where(METRICS.c.id > after).order_by(METRICS.c.id)
    filters = request.get("Dimensions") or []
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query).all()
    matching = [row for row in rows if _matches(row.dimensions, filters)]
    page = matching[:LIST_PAGE]
    output: dict[str, Any] = {
        "Metrics": [
            {"Namespace": row.namespace, "MetricName": row.metric_name, "Dimensions": row.dimensions}
            for row in page
        ]
    }
    if len(matching) > LIST_PAGE:
        output["NextToken"] = base64.urlsafe_b64encode(str(page[-1].id).encode()).decode()
    return output


def _matches(dimensions: list[dict[str, str]], filters: list[dict[str, str]]) -> bool:
    have = {item["Name"]: item["Value"] for item in dimensions}
    return all(
        item["Name"] in have and ("Value" not in item or have[item["Name"]] == item["Value"])
        for item in filters
    )


def _decode_token(token: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise invalid_value("The NextToken is not valid.") from None
