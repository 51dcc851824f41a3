"""Amazon SageMaker runtime: InvokeEndpoint, answered by the endpoint's worker processes."""

from __future__ import annotations

from nimbus.services.registry import Service

# sagemaker-runtime's botocore model names its validation error ValidationError
sagemaker_runtime = Service("sagemaker-runtime", validation_error="ValidationError")

# the operation modules register themselves on import
from nimbus.services.sagemaker_runtime import invocations  # noqa: E402, F401
