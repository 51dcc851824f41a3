"""CloudWatch metric storage stays bounded: aged one-second buckets are rolled up into one-minute
and one-hour buckets without changing any statistic, and data past retention is dropped."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import fresh_test_database
from sqlalchemy import func, select

from nimbus.services.monitoring.datapoints import (
    DATA,
    Batch,
    MetricId,
    Statistics,
    datapoints,
    roll_up,
    store,
)
from nimbus.storage import Storage

METRIC = MetricId.of("111122223333", "us-east-1", "Shop", "Orders", [{"Name": "Store", "Value": "north"}])
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    url = fresh_test_database().get("NIMBUS_DATABASE_URL", f"sqlite:///{tmp_path / 'nimbus.db'}")
    opened = Storage.open(tmp_path, url)  # PostgreSQL under tools/postgres.sh
    yield opened
    opened.close()


def _stats(*values: float) -> Statistics:
    stats = Statistics()
    for value in values:
        stats.add(value)
    return stats


def _rows(storage: Storage) -> int:
    with storage.database.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(DATA)).scalar_one())


def test_rollup_keeps_statistics_and_bounds_rows(storage: Storage) -> None:
    for second in range(0, 7200, 7):  # two hours of writes, a row each
        batch = Batch()
        batch.add(METRIC, "Count", START + timedelta(seconds=second), 1, _stats(second % 13, 1.0))
        store(storage, batch, START)
    before = datapoints(storage, METRIC, START, START + timedelta(hours=2), 3600, None)
    assert _rows(storage) == len(range(0, 7200, 7))

    roll_up(storage, START + timedelta(hours=5))  # older than three hours: per minute
    assert _rows(storage) == 120
    after = datapoints(storage, METRIC, START, START + timedelta(hours=2), 3600, None)
    assert [(p.start, p.stats) for p in after] == [(p.start, p.stats) for p in before]

    roll_up(storage, START + timedelta(days=20))  # older than 15 days: per hour
    assert _rows(storage) == 2
    hourly = datapoints(storage, METRIC, START, START + timedelta(hours=2), 3600, None)
    assert [(p.start, p.stats) for p in hourly] == [(p.start, p.stats) for p in before]

    roll_up(storage, START + timedelta(days=500))  # past retention
    assert _rows(storage) == 0
