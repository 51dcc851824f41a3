"""The CloudWatch metrics EMR publishes for running clusters (namespace AWS/ElasticMapReduce,
dimension JobFlowId), sampled every five minutes as on EMR (shortened like alarm periods by
NIMBUS_ALARM_TIME_SCALE): IsIdle (1 while the cluster waits with no step to run), AppsRunning and
AppsPending (steps, each one Spark application), CoreNodesRunning and TaskNodesRunning. With several
nodes, the holder of the sampling lease publishes."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any

from sqlalchemy import select

from nimbus.services.emr import emr
from nimbus.services.emr.records import CLUSTERS, INSTANCES, STEPS
from nimbus.services.leases import lease_node
from nimbus.services.monitoring.evaluation import effective_seconds
from nimbus.services.monitoring.publisher import publish
from nimbus.storage import Storage

NAMESPACE = "AWS/ElasticMapReduce"
SAMPLE_INTERVAL_S = 300.0
SHORTEST_INTERVAL_S = 1.0
LIVE = ("RUNNING", "WAITING")
SAMPLING_LEASE = "emr/cluster-metrics"
log = logging.getLogger(__name__)


def _sample(storage: Storage) -> None:
    with storage.database.engine.connect() as connection:
        clusters = connection.execute(select(CLUSTERS).where(CLUSTERS.c.state.in_(LIVE))).all()
        ids = [cluster.id for cluster in clusters]
        steps = connection.execute(
            select(STEPS.c.cluster_id, STEPS.c.state).where(STEPS.c.cluster_id.in_(ids))
        ).all()
        instances = connection.execute(
            select(INSTANCES.c.cluster_id, INSTANCES.c.group_id).where(
                INSTANCES.c.cluster_id.in_(ids), INSTANCES.c.state == "RUNNING"
            )
        ).all()
    step_states = Counter((step.cluster_id, step.state) for step in steps)
    running_groups = Counter((instance.cluster_id, instance.group_id) for instance in instances)
    for cluster in clusters:
        values = _cluster_values(cluster, step_states, running_groups)
        publish(storage, cluster.account_id, cluster.region, NAMESPACE, values, {"JobFlowId": cluster.id})


def _cluster_values(
    cluster: Any, step_states: Counter[tuple[str, str]], running_groups: Counter[tuple[str, str]]
) -> dict[str, tuple[float, str]]:
    running, pending = step_states[(cluster.id, "RUNNING")], step_states[(cluster.id, "PENDING")]
    nodes = Counter[str]()
    for group in cluster.instance_groups:
        nodes[group["InstanceGroupType"]] += running_groups[(cluster.id, group["Id"])]
    idle = cluster.state == "WAITING" and not running and not pending
    return {
        "IsIdle": (float(idle), "None"),
        "AppsRunning": (float(running), "Count"),
        "AppsPending": (float(pending), "Count"),
        "CoreNodesRunning": (float(nodes["CORE"]), "Count"),
        "TaskNodesRunning": (float(nodes["TASK"]), "Count"),
    }


def _sample_forever(storage: Storage) -> None:
    node = lease_node(storage)
    while True:
        time.sleep(max(SHORTEST_INTERVAL_S, effective_seconds(SAMPLE_INTERVAL_S)))
        try:
            if node.take(SAMPLING_LEASE):
                _sample(storage)
        except Exception:  # the next sample tries again; a failed one must not end the thread
            log.exception("sampling EMR cluster metrics failed")


@emr.on_startup
def start_sampler(storage: Storage) -> None:
    threading.Thread(target=_sample_forever, args=(storage,), name="emr-metrics", daemon=True).start()
