"""GetOnClusterAppUIPresignedURL: the address of a cluster's Spark master web UI, on loopback."""

from __future__ import annotations

from typing import Any

from nimbus.services.emr import emr
from nimbus.services.emr.clusters import find_cluster_of_caller
from nimbus.services.emr.errors import invalid_request
from nimbus.services.emr.records import ACTIVE_CLUSTER_STATES
from nimbus.services.emr.runner import cluster_supervisor
from nimbus.services.registry import RequestContext

# a Spark standalone master is the cluster's resource manager: it lists the applications and workers
SERVED_UI = "ResourceManager"


@emr.operation
def get_on_cluster_app_ui_presigned_url(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The one on-cluster UI Nimbus runs is the Spark master's web UI, served as OnClusterAppUIType
    ``ResourceManager`` (the default): a Spark standalone master is what schedules a Nimbus cluster,
    as YARN's ResourceManager does on EMR. The URL is the UI's own loopback address: it needs no
    signature since it answers only on this machine. PresignedURLReady is false until the master is up.
    No history server, Tez, YARN timeline or application master UIs run, and a cluster whose steps go
    to NIMBUS_SPARK_MASTER has no UI of Nimbus's: both answer InvalidRequestException. DryRun checks the
    request and answers without the URL. ExecutionRoleArn is not used."""
    cluster_supervisor(ctx.storage)
    cluster = find_cluster_of_caller(ctx, request["ClusterId"])
    kind = request.get("OnClusterAppUIType", SERVED_UI)
    if kind != SERVED_UI:
        raise invalid_request(
            f"The {kind} UI does not run on Nimbus clusters; the Spark master's UI is OnClusterAppUIType "
            f"{SERVED_UI}."
        )
    if cluster.state not in ACTIVE_CLUSTER_STATES:
        raise invalid_request(f"Cluster {cluster.id} is {cluster.state}: its application UIs are gone.")
    if cluster.master_url is not None and cluster.master_ui_url is None:  # both are set together
        raise invalid_request(
            f"Cluster {cluster.id} runs its steps on an existing Spark master (NIMBUS_SPARK_MASTER), "
            "whose UI Nimbus does not know."
        )
    ready = cluster.master_ui_url is not None
    if request.get("DryRun") or not ready:
        return {"PresignedURLReady": ready}
    return {"PresignedURLReady": True, "PresignedURL": cluster.master_ui_url}
