"""Amazon EMR: clusters that are Spark standalone clusters on this machine, steps that are
spark-submits against them."""

from __future__ import annotations

from nimbus.services.registry import Service

emr = Service("emr")

# the operation modules register themselves on import
from nimbus.services.emr import (  # noqa: E402, F401
    app_ui,
    auto_termination,
    bootstrap_actions,
    cluster_metrics,
    clusters,
    instance_fleets,
    instance_groups,
    steps,
)
