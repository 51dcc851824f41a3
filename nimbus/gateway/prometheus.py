"""``GET /_nimbus/metrics``: operators' metrics in Prometheus's text format (prometheus-client).

Requests and their latency per service, operation and status, counted as the gateway answers them;
and, read when scraped, the instances each SageMaker endpoint variant runs and the CloudWatch alarms
in each state. Unsigned, like /_nimbus/health: a scraper holds no Nimbus key, and nothing here is
data (only names of endpoints and counts)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from nimbus.protocol.http import HttpResponse
from nimbus.services.sagemaker.workers import pool
from nimbus.storage import Storage
from nimbus.storage.monitoring_schema import MetricAlarmRecord

METRICS_PATH = "/_nimbus/metrics"
ALARMS = MetricAlarmRecord.__table__
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class OperatorMetrics:
    def __init__(self) -> None:
        self.storage: Storage | None = None  # the running server's, once opened
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "nimbus_requests",
            "Requests answered, by service, operation and HTTP status.",
            ("service", "operation", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "nimbus_request_duration_seconds",
            "Time from a request's arrival to its answer, by service and operation.",
            ("service", "operation"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_ResourceCollector(self))

    def observe(self, service: str, operation: str, status: int, seconds: float) -> None:
        self.requests.labels(service, operation, str(status)).inc()
        self.latency.labels(service, operation).observe(seconds)

    def answer(self) -> HttpResponse:
        return HttpResponse(200, {"Content-Type": CONTENT_TYPE_LATEST}, generate_latest(self.registry))


class _ResourceCollector(Collector):
    def __init__(self, metrics: OperatorMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        instances = GaugeMetricFamily(
            "nimbus_sagemaker_variant_instances",
            "Instances each SageMaker endpoint variant runs on this node.",
            labels=("account", "region", "endpoint", "variant"),
        )
        for ((account, region, endpoint), variant), pids in sorted(pool.variant_pids().items()):
            instances.add_metric((account, region, endpoint, variant), len(pids))
        yield instances
        alarms = GaugeMetricFamily(
            "nimbus_cloudwatch_alarms", "CloudWatch metric alarms, by state.", labels=("state",)
        )
        storage = self._metrics.storage
        counts = {"OK": 0, "ALARM": 0, "INSUFFICIENT_DATA": 0}
        if storage is not None:
            query = select(ALARMS.c.state_value, func.count()).group_by(ALARMS.c.state_value)
            with storage.database.engine.connect() as connection:
                counts.update({state: count for state, count in connection.execute(query).all()})
        for state, count in counts.items():
            alarms.add_metric((state,), count)
        yield alarms
