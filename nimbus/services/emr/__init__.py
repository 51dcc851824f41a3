"""Amazon EMR: clusters that are Spark standalone clusters on this machine, steps that are
spark-submits against them."""

from __future__ import annotations

from nimbus.services.registry import Service

emr = Service("emr")

# the operation modules register themselves on import
from nimbus.services.emr import clusters, instance_groups, steps  # noqa: E402, F401
