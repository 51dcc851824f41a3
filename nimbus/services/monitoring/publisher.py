"""Metrics Nimbus's own services publish (SageMaker endpoints' invocations, training jobs' metric
definitions...): buffered in memory and written once a second by a background thread, so the request
that produced them never waits for the database."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from nimbus.services.monitoring.datapoints import FINEST_RESOLUTION, Batch, MetricId, Statistics, store
from nimbus.storage import Storage

FLUSH_INTERVAL_S = 1.0
log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._batch = Batch()
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="metrics-publisher", daemon=True).start()

    def add(self, metric: MetricId, unit: str, value: float, at: datetime | None = None) -> None:
        stats = Statistics()
        stats.add(value)
        with self._lock:
            self._batch.add(metric, unit, at or datetime.now(UTC), FINEST_RESOLUTION, stats)

    def flush(self) -> None:
        with self._lock:
            batch, self._batch = self._batch, Batch()
        store(self._storage, batch, datetime.now(UTC))

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_S)
            try:
                self.flush()
            except Exception:  # the next flush tries again; a failed one must not end the thread
                log.exception("publishing metrics failed")


_publishers: dict[int, Publisher] = {}
_publishers_lock = threading.Lock()


def publisher(storage: Storage) -> Publisher:
    with _publishers_lock:
        found = _publishers.get(id(storage))
        if found is None:
            found = _publishers[id(storage)] = Publisher(storage)
        return found


def publish(
    storage: Storage,
    account_id: str,
    region: str,
    namespace: str,
    values: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    at: datetime | None = None,
) -> None:
    """Adds ``{metric name: (value, unit)}`` of one metric family to the buffer."""
    pairs = [{"Name": name, "Value": value} for name, value in dimensions.items()]
    target = publisher(storage)
    for name, (value, unit) in values.items():
        target.add(MetricId.of(account_id, region, namespace, name, pairs), unit, value, at)
