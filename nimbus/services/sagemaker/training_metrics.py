"""The CloudWatch metrics SageMaker publishes for a training job: each of its MetricDefinitions'
values as the job prints them (namespace /aws/sagemaker/TrainingJobs, dimension Host, whose value is
``<job name>/<host>``), buffered so the job's output is never held up."""

from __future__ import annotations

from collections.abc import Mapping

from nimbus.services.monitoring.publisher import publish
from nimbus.storage import Storage

NAMESPACE = "/aws/sagemaker/TrainingJobs"


def publish_training_metrics(
    storage: Storage, key: tuple[str, str, str], host: str, found: Mapping[str, float]
) -> None:
    if not found:
        return
    account_id, region, name = key
    values = {metric: (value, "None") for metric, value in found.items()}
    publish(storage, account_id, region, NAMESPACE, values, {"Host": f"{name}/{host}"})
