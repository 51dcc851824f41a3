"""Amazon SageMaker: training jobs that really train, run as sandboxed processes on this machine."""

from __future__ import annotations

from nimbus.services.registry import Service

sagemaker = Service("sagemaker")

# the operation modules register themselves on import
from nimbus.services.sagemaker import endpoint_configs, endpoints, models, training_jobs, transform_jobs  # noqa: E402, F401
