"""Auto-termination: a cluster with an AutoTerminationPolicy ends once it has been idle (WAITING: no
step running or pending) for IdleTimeout seconds. RunJobFlow's policy is checked here; Get, Put and
RemoveAutoTerminationPolicy change the one kept in the cluster's request, where the runner reads it."""

from __future__ import annotations

from typing import Any

from nimbus.services.emr import emr
from nimbus.services.emr.errors import cluster_ended, validation_error
from nimbus.services.emr.instance_groups import listed_cluster
from nimbus.services.emr.records import ACTIVE_CLUSTER_STATES, set_cluster
from nimbus.services.emr.runner import cluster_supervisor
from nimbus.services.registry import RequestContext

MIN_IDLE_TIMEOUT_S = 60
MAX_IDLE_TIMEOUT_S = 604800  # seven days
DEFAULT_IDLE_TIMEOUT_S = 3600  # EMR's, for a policy that names no IdleTimeout


def check_auto_termination_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy with its IdleTimeout; ValidationException outside EMR's range."""
    timeout = policy.get("IdleTimeout", DEFAULT_IDLE_TIMEOUT_S)
    if not MIN_IDLE_TIMEOUT_S <= timeout <= MAX_IDLE_TIMEOUT_S:
        raise validation_error(
            f"IdleTimeout must be between {MIN_IDLE_TIMEOUT_S} and {MAX_IDLE_TIMEOUT_S} seconds; "
            f"it is {timeout}."
        )
    return {"IdleTimeout": timeout}


@emr.operation
def get_auto_termination_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    cluster = listed_cluster(ctx, request["ClusterId"])
    policy = cluster.request.get("AutoTerminationPolicy")
    return {} if policy is None else {"AutoTerminationPolicy": check_auto_termination_policy(policy)}


@emr.operation
def put_auto_termination_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The idle time counts from when the cluster last became WAITING, whatever the policy was then."""
    policy = check_auto_termination_policy(request.get("AutoTerminationPolicy") or {})
    _set_policy(ctx, request["ClusterId"], policy)
    return {}


@emr.operation
def remove_auto_termination_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _set_policy(ctx, request["ClusterId"], None)
    return {}


def _set_policy(ctx: RequestContext, cluster_id: str, policy: dict[str, Any] | None) -> None:
    cluster = listed_cluster(ctx, cluster_id)
    if cluster.state not in ACTIVE_CLUSTER_STATES or cluster.state == "TERMINATING":
        raise cluster_ended()
    changed = {name: value for name, value in cluster.request.items() if name != "AutoTerminationPolicy"}
    if policy is not None:
        changed["AutoTerminationPolicy"] = policy
    set_cluster(ctx.storage, cluster.id, request=changed)
    cluster_supervisor(ctx.storage).wake(cluster.id)
