"""Amazon SageMaker: training jobs that really train, run as sandboxed processes on this machine."""

from __future__ import annotations

from nimbus.services.registry import Service

sagemaker = Service("sagemaker")

# the operation modules register themselves on import
from nimbus.services.sagemaker import (  # noqa: E402, F401
    endpoint_configs,
    endpoint_utilization,
    endpoints,
    inference_recommendations_jobs,
    labeling_jobs,
    labeling_workteams,
    models,
    notebook_instances,
    notebook_lifecycle_configs,
    processing_jobs,
    tags,
    training_jobs,
    transform_jobs,
    tuning_jobs,
)
