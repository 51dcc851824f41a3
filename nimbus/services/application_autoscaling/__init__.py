"""Application Auto Scaling: scalable targets (SageMaker endpoint variants' instance counts, EMR
instance groups' instance counts), target tracking and step scaling policies whose CloudWatch alarms
call them, and the scaling activities they cause, applied for real through the SageMaker and EMR
operations as AWS's service-linked role calls them."""

from __future__ import annotations

from nimbus.services.registry import Service

application_autoscaling = Service("application-autoscaling")

# the operation modules register themselves on import
from nimbus.services.application_autoscaling import activities, policies, scaling, targets  # noqa: E402, F401
