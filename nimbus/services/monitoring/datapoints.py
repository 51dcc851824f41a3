"""Metric data in the database: how values are stored (statistics per time bucket), read back as
statistics over a period, and rolled up as they age.

Each write adds rows of (sample count, sum, minimum, maximum) per one-second bucket, never updating
a row (concurrent writers lose nothing); reads aggregate the rows of each period. As CloudWatch
keeps them, buckets older than three hours are rolled up into one-minute buckets, those older than
15 days into one-hour buckets, and data older than 455 days is dropped: storage grows with the
number of metrics and their age, not with the number of writes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, delete, func, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.storage import Storage
from nimbus.storage.monitoring_schema import MetricDataRecord, MetricRecord

METRICS = MetricRecord.__table__
DATA = MetricDataRecord.__table__
FINEST_RESOLUTION = 1
# (age beyond which buckets are rolled up, into buckets of this many seconds), finest first
ROLLUPS = ((timedelta(hours=3), 60), (timedelta(days=15), 3600))
RETENTION = timedelta(days=455)


@dataclass(frozen=True)
class MetricId:
    account_id: str
    region: str
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by name

    @staticmethod
    def of(
        account_id: str, region: str, namespace: str, name: str, dimensions: Iterable[dict[str, str]]
    ) -> MetricId:
        pairs = tuple(sorted((item["Name"], item["Value"]) for item in dimensions))
        return MetricId(account_id, region, namespace, name, pairs)

    @property
    def dimensions_key(self) -> str:
        return json.dumps(self.dimensions, separators=(",", ":"))

    @property
    def dimension_list(self) -> list[dict[str, str]]:
        return [{"Name": name, "Value": value} for name, value in self.dimensions]


@dataclass
class Statistics:
    """The statistics of the values in one bucket."""

    sample_count: float = 0.0
    sum: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf

    def add(self, value: float, count: float = 1.0) -> None:
        self.sample_count += count
        self.sum += value * count
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)

    def value(self, statistic: str) -> float:
        """SampleCount, Average, Sum, Minimum or Maximum."""
        if statistic == "Average":
            return self.sum / self.sample_count if self.sample_count else 0.0
        values = {"SampleCount": self.sample_count, "Sum": self.sum, "Minimum": self.minimum}
        return values.get(statistic, self.maximum)

    def merge(self, other: Statistics) -> None:
        self.sample_count += other.sample_count
        self.sum += other.sum
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)


@dataclass
class Batch:
    """Values to store: per metric, unit and bucket."""

    buckets: dict[tuple[MetricId, str, int, int], Statistics] = field(default_factory=dict)

    def add(self, metric: MetricId, unit: str, at: datetime, resolution: int, stats: Statistics) -> None:
        second = int(at.timestamp())
        key = (metric, unit, resolution, second - second % resolution)
        self.buckets.setdefault(key, Statistics()).merge(stats)


def store(storage: Storage, batch: Batch, now: datetime) -> None:
    """Writes a batch in one transaction (the metrics it names are created or marked as just put)."""
    if not batch.buckets:
        return
    metrics = {key[0] for key in batch.buckets}
    ids = {metric: _metric_row_id(storage, metric, now) for metric in metrics}
    rows = [
        {
            "metric_id": ids[metric],
            "unit": unit,
            "resolution": resolution,
            "bucket": bucket,
            "sample_count": stats.sample_count,
            "sum": stats.sum,
            "minimum": stats.minimum,
            "maximum": stats.maximum,
        }
        for (metric, unit, resolution, bucket), stats in batch.buckets.items()
    ]
    with storage.database.engine.begin() as connection:
        connection.execute(update(METRICS).where(METRICS.c.id.in_(ids.values())).values(last_put_at=now))
        connection.execute(insert(DATA), rows)


def _metric_row_id(storage: Storage, metric: MetricId, now: datetime) -> int:
    found = find_metric_id(storage, metric)
    if found is not None:
        return found
    try:
        with storage.database.engine.begin() as connection:
            return int(
                connection.execute(
                    insert(METRICS).values(
                        account_id=metric.account_id,
                        region=metric.region,
                        namespace=metric.namespace,
                        metric_name=metric.name,
                        dimensions_key=metric.dimensions_key,
                        dimensions=metric.dimension_list,
                        last_put_at=now,
                    )
                ).inserted_primary_key[0]
            )
    except IntegrityError:  # another writer created it meanwhile
        found = find_metric_id(storage, metric)
        assert found is not None
        return found


def find_metric_id(storage: Storage, metric: MetricId) -> int | None:
    with storage.database.engine.connect() as connection:
        return connection.execute(
            select(METRICS.c.id).where(
                METRICS.c.account_id == metric.account_id,
                METRICS.c.region == metric.region,
                METRICS.c.namespace == metric.namespace,
                METRICS.c.metric_name == metric.name,
                METRICS.c.dimensions_key == metric.dimensions_key,
            )
        ).scalar()


@dataclass(frozen=True)
class Datapoint:
    start: int  # epoch seconds of the period's start
    unit: str
    stats: Statistics

    def statistic(self, name: str) -> float:
        return self.stats.value(name)


def datapoints(
    storage: Storage, metric: MetricId, start: datetime, end: datetime, period: int, unit: str | None
) -> list[Datapoint]:
    """The metric's statistics per period in [start, end), oldest first, aggregated by the database;
    periods start at multiples of ``period`` seconds since the epoch. Without a unit, each unit's data
    makes datapoints of its own."""
    metric_id = find_metric_id(storage, metric)
    if metric_id is None:
        return []
    begin = _period_start(period)
    query = (
        select(
            begin,
            DATA.c.unit,
            func.sum(DATA.c.sample_count),
            func.sum(DATA.c.sum),
            func.min(DATA.c.minimum),
            func.max(DATA.c.maximum),
        )
        .where(
            DATA.c.metric_id == metric_id,
            DATA.c.bucket >= math.floor(start.timestamp()),
            DATA.c.bucket < math.ceil(end.timestamp()),
        )
        .group_by(begin, DATA.c.unit)
        .order_by(begin, DATA.c.unit)
    )
    if unit is not None:
        query = query.where(DATA.c.unit == unit)
    with storage.database.engine.connect() as connection:
        rows = connection.execute(query).all()
    return [Datapoint(int(first), unit_name, Statistics(*stats)) for first, unit_name, *stats in rows]


def _period_start(seconds: int) -> ColumnElement[int]:
    """A bucket's period as an SQL expression. The length is a literal, not a parameter: PostgreSQL
    matches a grouped expression to the selected one only when they are written the same."""
    return DATA.c.bucket - DATA.c.bucket % literal_column(str(int(seconds)), BigInteger)


def roll_up(storage: Storage, now: datetime) -> None:
    """Merges aged buckets into coarser ones and drops data past retention (one transaction each)."""
    finer = FINEST_RESOLUTION
    for age, resolution in ROLLUPS:
        _merge(storage, int((now - age).timestamp()), finer, resolution)
        finer = resolution
    with storage.database.engine.begin() as connection:
        connection.execute(delete(DATA).where(DATA.c.bucket < int((now - RETENTION).timestamp())))


def _merge(storage: Storage, before: int, finer: int, resolution: int) -> None:
    old = (DATA.c.resolution <= finer) & (DATA.c.bucket < before - before % resolution)
    coarse = _period_start(resolution)
    query = select(
        DATA.c.metric_id,
        DATA.c.unit,
        coarse.label("coarse"),
        func.sum(DATA.c.sample_count),
        func.sum(DATA.c.sum),
        func.min(DATA.c.minimum),
        func.max(DATA.c.maximum),
    ).where(old)
    with storage.database.engine.begin() as connection:
        merged = connection.execute(query.group_by(DATA.c.metric_id, DATA.c.unit, coarse)).all()
        if not merged:
            return
        connection.execute(delete(DATA).where(old))
        connection.execute(insert(DATA), [_row(item, resolution) for item in merged])


def _row(item: Sequence[Any], resolution: int) -> dict[str, Any]:
    metric_id, unit, bucket, count, total, low, high = item
    return {
        "metric_id": metric_id,
        "unit": unit,
        "resolution": resolution,
        "bucket": bucket,
        "sample_count": count,
        "sum": total,
        "minimum": low,
        "maximum": high,
    }
