"""Which node serves an endpoint: the holder of its serving lease,
``sagemaker/endpoint/<account>/<region>/<name>``. Only that node runs the endpoint's workers; every
other node forwards the endpoint's invocations to it (services/sagemaker_runtime/forwarding.py).

The node that deploys an endpoint (creates, updates or resizes it) claims the lease once its new workers
serve, and the former holder's heartbeat, finding the lease lost, stops its own. When the holder dies,
the first node whose heartbeat (or invocation) finds the lease expired takes the endpoint over and
starts its workers.
"""

from __future__ import annotations

import functools

from nimbus.errors import AwsError
from nimbus.services.leases import lease_node, resource_name
from nimbus.services.sagemaker.workers import EndpointKey, pool
from nimbus.storage import Storage

SERVING_LEASE = "sagemaker/endpoint"


def serving_lease(key: EndpointKey) -> str:
    return resource_name(SERVING_LEASE, key)


def _stop_here(storage: Storage, key: EndpointKey) -> None:
    """The lease went to another node (or the endpoint was deleted): this node's workers stop."""
    pool.stop(key)
    lease_node(storage).release(serving_lease(key))


def own(storage: Storage, key: EndpointKey) -> None:
    """This node has just deployed the endpoint: it serves it from now on, whoever did before."""
    lease_node(storage).claim(serving_lease(key), functools.partial(_stop_here, storage, key))


def hold(storage: Storage, key: EndpointKey) -> None:
    """This node took the endpoint's lease over: its workers stop here if the lease is lost."""
    lease_node(storage).hold(serving_lease(key), functools.partial(_stop_here, storage, key))


def disown(storage: Storage, key: EndpointKey) -> None:
    """The endpoint was deleted: its workers stop, here at once, on another node at its next heartbeat."""
    lease_node(storage).end(serving_lease(key))


def served(storage: Storage, key: EndpointKey) -> bool:
    """Whether a live node (this one included) serves the endpoint."""
    holder = lease_node(storage).holder(serving_lease(key))
    return holder is not None and holder.live


def serving_node(storage: Storage, key: EndpointKey) -> str | None:
    """None when this node serves the endpoint, taking it over if no live node does (it was never
    served, or its node died); else the address of the node that serves it."""
    node = lease_node(storage)
    resource = serving_lease(key)
    holder = node.holder(resource)
    if holder is None or not holder.live:
        if node.take(resource):
            hold(storage, key)
            return None
        holder = node.holder(resource)  # another node took it over first
    if holder is not None and holder.owner == node.id:
        return None
    if holder is None or holder.address is None:
        raise AwsError(
            "ServiceUnavailable",
            "The Nimbus node serving the endpoint is changing; try again in a moment.",
            503,
        )
    return holder.address
