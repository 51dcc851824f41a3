"""Endpoints: the variants of an endpoint configuration, deployed as worker processes.

CreateEndpoint and UpdateEndpoint answer at once and deploy in a background thread: the endpoint is
InService once every instance answers ``/ping``, Failed (with the reason) when a model does not load.
With several nodes, one node serves each endpoint (endpoint_owners.py): the node that deployed it last,
or the node that took it over when that one died.
"""

from __future__ import annotations

import dataclasses
import functools
import shutil
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.services.leases import lease_node, resource_name
from nimbus.services.logs.records import append_events
from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.deployment import model_variant
from nimbus.services.sagemaker.endpoint_configs import CONFIGS, find_config
from nimbus.services.sagemaker.endpoint_owners import SERVING_LEASE, disown, hold, own, served
from nimbus.services.sagemaker.models import MODELS, hosting_arn, page, sorted_rows, validation
from nimbus.services.sagemaker.workers import EndpointKey, VariantSpec, WorkerFailed, pool
from nimbus.storage import Storage
from nimbus.storage.sagemaker_hosting_schema import SageMakerEndpointRecord

ENDPOINTS = SageMakerEndpointRecord.__table__
FAILURE_REASON_MAX = 1024
LOG_GROUP_PREFIX = "/aws/sagemaker/Endpoints"
DEPLOYING = ("Creating", "Updating")
SERVING = ("InService", "Updating")  # the statuses in which an endpoint answers invocations
INTERRUPTED = (
    "The Nimbus node deploying the endpoint stopped (restarted or died); it runs its recorded configuration."
)
# the node deploying (creating, updating, resizing) an endpoint holds .../<account>/<region>/<name>
DEPLOYMENT_LEASE = "sagemaker/endpoint-deployment"
_restoring = threading.Lock()


def endpoint_key(ctx: RequestContext, name: str) -> EndpointKey:
    return (ctx.caller.account_id, ctx.region, name)


def _where(key: EndpointKey) -> Any:
    account_id, region, name = key
    return (
        (ENDPOINTS.c.account_id == account_id) & (ENDPOINTS.c.region == region) & (ENDPOINTS.c.name == name)
    )


def find_endpoint(ctx: RequestContext, name: str, connection: Connection) -> Any:
    row = connection.execute(select(ENDPOINTS).where(_where(endpoint_key(ctx, name)))).first()
    if row is None:
        raise validation(f'Could not find endpoint "{hosting_arn(ctx, "endpoint", name)}".')
    return row


def _endpoint_dir(storage: Storage, key: EndpointKey) -> Path:
    return storage.data_dir.joinpath("sagemaker", "endpoints", *key)


def _variant_specs(storage: Storage, key: EndpointKey, variants: list[dict[str, Any]]) -> list[VariantSpec]:
    """Extracts each variant's model into a fresh directory for this deployment; the workers' output
    goes to the endpoint's CloudWatch log group."""
    deployment = _endpoint_dir(storage, key) / uuid.uuid4().hex
    sink = functools.partial(append_events, storage, key[0], key[1], f"{LOG_GROUP_PREFIX}/{key[2]}")
    specs = [
        model_variant(
            storage,
            key[0],
            key[1],
            variant["ModelName"],
            variant["VariantName"],
            variant["InitialInstanceCount"],
            float(variant["InitialVariantWeight"]),
            deployment / variant["VariantName"],
            variant.get("InstanceType", ""),
        )
        for variant in variants
    ]
    return [dataclasses.replace(spec, log_sink=sink) for spec in specs]


def _current(variants: list[dict[str, Any]], summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The configuration's variants with the weights and instance counts the endpoint has now
    (UpdateEndpointWeightsAndCapacities changes them without changing the configuration)."""
    now = {summary["VariantName"]: summary for summary in summaries}
    return [
        variant
        | (
            {
                "InitialVariantWeight": now[variant["VariantName"]]["CurrentWeight"],
                "InitialInstanceCount": now[variant["VariantName"]]["CurrentInstanceCount"],
            }
            if variant["VariantName"] in now
            else {}
        )
        for variant in variants
    ]


def _summaries(variants: list[dict[str, Any]], images: dict[str, str], count: bool) -> list[dict[str, Any]]:
    return [
        {
            "VariantName": variant["VariantName"],
            "DeployedImages": [{"SpecifiedImage": images.get(variant["ModelName"], "")}],
            "CurrentWeight": float(variant["InitialVariantWeight"]),
            "DesiredWeight": float(variant["InitialVariantWeight"]),
            "CurrentInstanceCount": variant["InitialInstanceCount"] if count else 0,
            "DesiredInstanceCount": variant["InitialInstanceCount"],
        }
        for variant in variants
    ]


def _images(storage: Storage, key: EndpointKey) -> dict[str, str]:
    with storage.database.engine.connect() as connection:
        rows = connection.execute(
            select(MODELS).where(MODELS.c.account_id == key[0], MODELS.c.region == key[1])
        )
        return {row.name: row.primary_container.get("Image", "") for row in rows}


def _deploy(storage: Storage, key: EndpointKey, config_name: str, variants: list[dict[str, Any]]) -> None:
    """Runs in the background: starts the workers and records the outcome."""
    values: dict[str, Any]
    try:
        pool.deploy(key, _variant_specs(storage, key, variants))
        own(storage, key)
        values = {
            "status": "InService",
            "config_name": config_name,
            "failure_reason": None,
            "variants": _summaries(variants, _images(storage, key), count=True),
        }
    except WorkerFailed as error:
        reason = str(error)[:FAILURE_REASON_MAX]
        # a failed update leaves the old deployment serving (on whichever node), as AWS rolls back
        values = (
            {"status": "InService", "failure_reason": reason}
            if served(storage, key)
            else {
                "status": "Failed",
                "failure_reason": reason,
            }
        )
    values["last_modified"] = datetime.now(UTC)
    with storage.database.engine.begin() as connection:
        recorded = connection.execute(update(ENDPOINTS).where(_where(key)).values(**values)).rowcount
    if not recorded:  # deleted while it was deploying
        disown(storage, key)


def _start_deploy(
    storage: Storage, key: EndpointKey, config_name: str, variants: list[dict[str, Any]]
) -> None:
    _in_background(storage, key, functools.partial(_deploy, storage, key, config_name, variants))


def _in_background(storage: Storage, key: EndpointKey, work: Callable[[], None]) -> None:
    """Runs a deployment in a thread, holding its lease until it recorded its outcome: another node
    settles it only if this one dies meanwhile. No API stops a deployment: a stop has nothing to do."""
    lease = resource_name(DEPLOYMENT_LEASE, key)
    lease_node(storage).hold(lease, lambda: None)

    def held() -> None:
        try:
            work()
        finally:
            lease_node(storage).release(lease)

    threading.Thread(target=held, name=f"deploy-{key[2]}", daemon=True).start()


def ensure_serving(storage: Storage, key: EndpointKey) -> None:
    """An InService endpoint whose workers are not running here (this node took it over, or Nimbus
    restarted) gets them back, with the weights and instance counts it had."""
    if pool.serves(key):  # the common case, without the lock
        return
    with _restoring:
        if pool.serves(key):
            return
        with storage.database.engine.connect() as connection:
            row = connection.execute(select(ENDPOINTS).where(_where(key))).first()
            if row is None or row.status not in ("InService", "Updating"):
                return
            config = connection.execute(
                select(CONFIGS).where(
                    CONFIGS.c.account_id == key[0],
                    CONFIGS.c.region == key[1],
                    CONFIGS.c.name == row.config_name,
                )
            ).first()
        if config is None:
            raise WorkerFailed(f"the endpoint configuration {row.config_name} was deleted")
        pool.deploy(key, _variant_specs(storage, key, _current(config.production_variants, row.variants)))


def restore_endpoints(storage: Storage) -> None:
    """At start and at every heartbeat: a deployment whose node stopped while the endpoint was Creating
    or Updating is settled, and endpoints whose serving node stopped are taken over (a node restarted
    takes its own back at once)."""
    for settle in (_settle_interrupted_deployments, _take_over_endpoints):
        settle(storage)
        lease_node(storage).settle_every_beat(settle)


def _take_over_endpoints(storage: Storage) -> None:
    """Endpoints serving (or being updated) whose serving node stopped: this node holds their lease and
    starts their workers in the background, so the server answers at once (an invocation meanwhile
    waits for its endpoint)."""
    keys = list(lease_node(storage).orphans(SERVING_LEASE, _modified(storage, SERVING), keep=True))
    for key in keys:
        hold(storage, key)
    if keys:
        threading.Thread(
            target=_restore, args=(storage, keys), name="endpoints-take-over", daemon=True
        ).start()


def _modified(storage: Storage, statuses: tuple[str, ...]) -> list[tuple[EndpointKey, datetime]]:
    """The endpoints in these statuses, with when each last changed."""
    with storage.database.engine.connect() as connection:
        columns = ENDPOINTS.c
        rows = connection.execute(
            select(columns.account_id, columns.region, columns.name, columns.last_modified).where(
                columns.status.in_(statuses)
            )
        ).all()
    return [((account, region, name), modified) for account, region, name, modified in rows]


def _settle_interrupted_deployments(storage: Storage) -> None:
    """Endpoints left Creating or Updating by a node that stopped (their deployment lease expired; a
    live node's deployments are its own) are InService with their recorded configuration, saying why;
    the node that next invokes one starts its workers."""
    for key in lease_node(storage).orphans(DEPLOYMENT_LEASE, _modified(storage, DEPLOYING)):
        with storage.database.engine.begin() as connection:
            connection.execute(
                update(ENDPOINTS)
                .where(_where(key), ENDPOINTS.c.status.in_(DEPLOYING))
                .values(status="InService", failure_reason=INTERRUPTED, last_modified=datetime.now(UTC))
            )


def _restore(storage: Storage, keys: list[EndpointKey]) -> None:
    for key in keys:
        try:
            ensure_serving(storage, key)
        except WorkerFailed as error:
            with storage.database.engine.begin() as connection:
                connection.execute(
                    update(ENDPOINTS)
                    .where(_where(key))
                    .values(status="Failed", failure_reason=str(error)[:FAILURE_REASON_MAX])
                )
            disown(storage, key)


@sagemaker.operation
def create_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Each instance is a worker process on this machine serving the model on a loopback port."""
    name = request["EndpointName"]
    key = endpoint_key(ctx, name)
    now = datetime.now(UTC)
    try:
        with ctx.storage.database.engine.begin() as connection:
            config = find_config(ctx, request["EndpointConfigName"], connection)
            variants = config.production_variants
            connection.execute(
                insert(ENDPOINTS),
                {
                    "account_id": key[0],
                    "region": key[1],
                    "name": name,
                    "config_name": config.name,
                    "status": "Creating",
                    "failure_reason": None,
                    "variants": [],
                    "created_at": now,
                    "last_modified": now,
                    "tags": request.get("Tags") or [],
                },
            )
    except IntegrityError:
        arn = hosting_arn(ctx, "endpoint", name)
        raise validation(f'Cannot create already existing endpoint "{arn}".') from None
    shutil.rmtree(_endpoint_dir(ctx.storage, key), ignore_errors=True)
    _start_deploy(ctx.storage, key, config.name, variants)
    return {"EndpointArn": hosting_arn(ctx, "endpoint", name)}


@sagemaker.operation
def describe_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        row = find_endpoint(ctx, request["EndpointName"], connection)
    output = {
        "EndpointName": row.name,
        "EndpointArn": hosting_arn(ctx, "endpoint", row.name),
        "EndpointConfigName": row.config_name,
        "EndpointStatus": row.status,
        "CreationTime": row.created_at,
        "LastModifiedTime": row.last_modified,
    }
    if row.variants:
        output["ProductionVariants"] = row.variants
    if row.failure_reason:
        output["FailureReason"] = row.failure_reason
    return output


@sagemaker.operation
def list_endpoints(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    query = select(ENDPOINTS).where(
        ENDPOINTS.c.account_id == ctx.caller.account_id, ENDPOINTS.c.region == ctx.region
    )
    if request.get("StatusEquals"):
        query = query.where(ENDPOINTS.c.status == request["StatusEquals"])
    with ctx.storage.database.engine.connect() as connection:
        rows, token = page(sorted_rows(connection.execute(query).all(), request), request)
    output: dict[str, Any] = {
        "Endpoints": [
            {
                "EndpointName": row.name,
                "EndpointArn": hosting_arn(ctx, "endpoint", row.name),
                "CreationTime": row.created_at,
                "LastModifiedTime": row.last_modified,
                "EndpointStatus": row.status,
            }
            for row in rows
        ]
    }
    if token:
        output["NextToken"] = token
    return output


@sagemaker.operation
def update_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Blue/green in one step: the new configuration's workers all answer ``/ping`` before the old
    ones stop; DeploymentConfig and the RetainAllVariantProperties options are not applied."""
    key = endpoint_key(ctx, request["EndpointName"])
    with ctx.storage.database.engine.begin() as connection:
        row = find_endpoint(ctx, request["EndpointName"], connection)
        if row.status != "InService":
            arn = hosting_arn(ctx, "endpoint", row.name)
            raise validation(f'Cannot update in-progress endpoint "{arn}".')
        config = find_config(ctx, request["EndpointConfigName"], connection)
        connection.execute(
            update(ENDPOINTS).where(_where(key)).values(status="Updating", last_modified=datetime.now(UTC))
        )
    _start_deploy(ctx.storage, key, config.name, config.production_variants)
    return {"EndpointArn": hosting_arn(ctx, "endpoint", row.name)}


@sagemaker.operation
def update_endpoint_weights_and_capacities(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The endpoint is Updating until the new instances answer ``/ping``; then it serves with the new
    weights and counts, and instances beyond a lowered count stop. ServerlessUpdateConfig is refused."""
    key = endpoint_key(ctx, request["EndpointName"])
    desired = request["DesiredWeightsAndCapacities"]
    with ctx.storage.database.engine.begin() as connection:
        row = find_endpoint(ctx, request["EndpointName"], connection)
        arn = hosting_arn(ctx, "endpoint", row.name)
        if row.status != "InService":
            raise validation(f'Cannot update in-progress endpoint "{arn}".')
        present = {summary["VariantName"] for summary in row.variants}
        missing = sorted({change["VariantName"] for change in desired} - present)
        if missing:
            raise validation(
                f'The variant(s) "[{", ".join(missing)}]" is/are not present in the endpoint "{arn}".'
            )
        for change in desired:
            if "ServerlessUpdateConfig" in change:
                raise validation(
                    "Nimbus runs instance-based variants: ServerlessUpdateConfig is not supported."
                )
            if change.get("DesiredInstanceCount") == 0:
                raise validation("DesiredInstanceCount must be at least 1 for an instance-based variant.")
        connection.execute(
            update(ENDPOINTS).where(_where(key)).values(status="Updating", last_modified=datetime.now(UTC))
        )
    _in_background(ctx.storage, key, functools.partial(_resize, ctx.storage, key, row.variants, desired))
    return {"EndpointArn": hosting_arn(ctx, "endpoint", row.name)}


def _resize(
    storage: Storage, key: EndpointKey, summaries: list[dict[str, Any]], desired: list[dict[str, Any]]
) -> None:
    """Runs in the background: applies each variant's change, then records where the endpoint stands."""
    changes = {change["VariantName"]: change for change in desired}
    failure = None
    try:
        ensure_serving(storage, key)
        own(storage, key)  # the node resizing serves the endpoint from now on
        for summary in summaries:
            change = changes.get(summary["VariantName"])
            if change is None:
                continue
            weight = float(change.get("DesiredWeight", summary["CurrentWeight"]))
            count = int(change.get("DesiredInstanceCount", summary["CurrentInstanceCount"]))
            pool.resize(key, summary["VariantName"], weight, count)
            summary.update(
                CurrentWeight=weight,
                DesiredWeight=weight,
                CurrentInstanceCount=count,
                DesiredInstanceCount=count,
            )
    except WorkerFailed as error:
        failure = str(error)[:FAILURE_REASON_MAX]
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(ENDPOINTS)
            .where(_where(key))
            .values(
                status="InService",
                variants=summaries,
                failure_reason=failure,
                last_modified=datetime.now(UTC),
            )
        )


@sagemaker.operation
def delete_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The workers are stopped before the call returns when this node serves the endpoint, else by the
    serving node's next heartbeat (within a third of NIMBUS_LEASE_SECONDS)."""
    key = endpoint_key(ctx, request["EndpointName"])
    with ctx.storage.database.engine.begin() as connection:
        find_endpoint(ctx, request["EndpointName"], connection)
        connection.execute(delete(ENDPOINTS).where(_where(key)))
    disown(ctx.storage, key)
    shutil.rmtree(_endpoint_dir(ctx.storage, key), ignore_errors=True)
    return {}


# At start, endpoints that were serving come back (their workers did not outlive the old process).
sagemaker.on_startup(restore_endpoints)
