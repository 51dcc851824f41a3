"""Steps: AddJobFlowSteps, ListSteps, DescribeStep, CancelSteps. A step is a ``command-runner.jar``
``spark-submit`` that the cluster's runner starts in client mode against the cluster's master."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from nimbus.services.emr import emr
from nimbus.services.emr.errors import (
    cluster_ended,
    invalid_request,
    unknown_cluster,
    unknown_job_flow,
    validation_error,
)
from nimbus.services.emr.records import (
    ACTIVE_CLUSTER_STATES,
    CLUSTERS,
    STEPS,
    find_cluster,
    move_step,
    new_id,
    now,
)
from nimbus.services.emr.runner import cluster_supervisor
from nimbus.services.registry import RequestContext

PAGE_SIZE = 50
DEFAULT_ACTION_ON_FAILURE = "TERMINATE_CLUSTER"


def check_step(step: dict[str, Any]) -> None:
    """Nimbus runs ``command-runner.jar`` steps whose command is ``spark-submit``."""
    jar_step = step["HadoopJarStep"]
    arguments = jar_step.get("Args") or []
    if not jar_step["Jar"].endswith("command-runner.jar") or not arguments:
        raise validation_error(
            f"Step {step['Name']!r}: Nimbus runs command-runner.jar steps (Jar {jar_step['Jar']!r} is not)."
        )
    if arguments[0].rsplit("/", 1)[-1] != "spark-submit":
        raise validation_error(
            f"Step {step['Name']!r}: Nimbus runs spark-submit commands with command-runner.jar, "
            f"not {arguments[0]!r}."
        )


def insert_steps(
    connection: Connection, cluster_id: str, steps: list[dict[str, Any]], after: int
) -> list[str]:
    """Stores the steps as PENDING, in order after position ``after``; returns their ids."""
    ids = []
    for position, step in enumerate(steps, start=after + 1):
        step_id = new_id("s-")
        config = {**step, "ActionOnFailure": step.get("ActionOnFailure") or DEFAULT_ACTION_ON_FAILURE}
        connection.execute(
            insert(STEPS),
            {
                "id": step_id,
                "cluster_id": cluster_id,
                "position": position,
                "config": config,
                "state": "PENDING",
                "created_at": now(),
            },
        )
        ids.append(step_id)
    return ids


@emr.operation
def add_job_flow_steps(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Nimbus runs ``command-runner.jar`` steps whose command is ``spark-submit`` (others, such as
    script-runner.jar, are refused): in client mode against the cluster's own master, whatever
    ``--master`` / ``--deploy-mode`` say. ``s3://``, ``s3a://`` and ``s3n://`` paths (the application
    file too) are Nimbus S3's object files, read and written in place; objects a step writes appear in
    S3 when the step ends, not while it runs. The driver and executors run as plain processes (not in
    a sandbox) whose environment holds nothing of Nimbus's. Steps run one at a time
    (StepConcurrencyLevel 1); ExecutionRoleArn is not used."""
    supervisor = cluster_supervisor(ctx.storage)
    cluster = find_cluster(ctx.storage, request["JobFlowId"], ctx.caller.account_id)
    if cluster is None or cluster.region != ctx.region:
        raise unknown_job_flow(request["JobFlowId"])
    for step in request["Steps"]:
        check_step(step)
    with ctx.storage.database.engine.begin() as connection:
        # checked inside the transaction that adds the steps, so none lands on an ending cluster
        state = connection.scalar(select(CLUSTERS.c.state).where(CLUSTERS.c.id == cluster.id))
        if state not in ACTIVE_CLUSTER_STATES or state == "TERMINATING":
            raise cluster_ended()
        last = connection.scalar(select(func.max(STEPS.c.position)).where(STEPS.c.cluster_id == cluster.id))
        step_ids = insert_steps(connection, cluster.id, request["Steps"], last or 0)
    supervisor.wake(cluster.id)
    return {"StepIds": step_ids}


def _cluster(ctx: RequestContext, cluster_id: str) -> Any:
    cluster_supervisor(ctx.storage)
    cluster = find_cluster(ctx.storage, cluster_id, ctx.caller.account_id)
    if cluster is None or cluster.region != ctx.region:
        raise unknown_cluster(cluster_id)
    return cluster


def _step(step: Any) -> dict[str, Any]:
    config = step.config
    jar_step = config["HadoopJarStep"]
    timeline = {
        name: value
        for name, value in (
            ("CreationDateTime", step.created_at),
            ("StartDateTime", step.started_at),
            ("EndDateTime", step.ended_at),
        )
        if value is not None
    }
    status: dict[str, Any] = {"State": step.state, "StateChangeReason": {}, "Timeline": timeline}
    if step.failure:
        status["FailureDetails"] = step.failure
    hadoop_config = {
        "Jar": jar_step["Jar"],
        "Properties": {item["Key"]: item.get("Value", "") for item in jar_step.get("Properties") or []},
        "Args": jar_step.get("Args") or [],
    }
    if "MainClass" in jar_step:
        hadoop_config["MainClass"] = jar_step["MainClass"]
    return {
        "Id": step.id,
        "Name": config["Name"],
        "Config": hadoop_config,
        "ActionOnFailure": config["ActionOnFailure"],
        "Status": status,
    }


@emr.operation
def describe_step(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """FailureDetails.Reason is the last exception line the driver printed, LogFile the step log
    (stdout.gz or stderr.gz) that holds it."""
    cluster = _cluster(ctx, request["ClusterId"])
    with ctx.storage.database.engine.connect() as connection:
        step = connection.execute(
            select(STEPS).where(STEPS.c.cluster_id == cluster.id, STEPS.c.id == request["StepId"])
        ).first()
    if step is None:
        raise invalid_request(f"Step id '{request['StepId']}' is not valid.")
    return {"Step": _step(step)}


@emr.operation
def list_steps(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Newest first, 50 a page."""
    cluster = _cluster(ctx, request["ClusterId"])
    query = select(STEPS).where(STEPS.c.cluster_id == cluster.id)
    if request.get("StepStates"):
        query = query.where(STEPS.c.state.in_(request["StepStates"]))
    if request.get("StepIds"):
        query = query.where(STEPS.c.id.in_(request["StepIds"]))
    marker = request.get("Marker") or "0"
    if not marker.isdigit():
        raise invalid_request(f"The marker {marker!r} is not valid.")
    offset = int(marker)
    with ctx.storage.database.engine.connect() as connection:
        rows = list(
            connection.execute(query.order_by(STEPS.c.position.desc()).offset(offset).limit(PAGE_SIZE + 1))
        )
    output: dict[str, Any] = {"Steps": [_step(row) for row in rows[:PAGE_SIZE]]}
    if len(rows) > PAGE_SIZE:
        output["Marker"] = str(offset + PAGE_SIZE)
    return output


@emr.operation
def cancel_steps(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A pending step is cancelled at once; a running one (either StepCancellationOption) has its
    spark-submit process tree stopped: SIGTERM, then SIGKILL after 5 s."""
    cluster = _cluster(ctx, request["ClusterId"])
    infos = []
    for step_id in request["StepIds"]:
        with ctx.storage.database.engine.connect() as connection:
            state = connection.scalar(
                select(STEPS.c.state).where(STEPS.c.cluster_id == cluster.id, STEPS.c.id == step_id)
            )
        cancelled = state is not None and (
            move_step(ctx.storage, step_id, ("PENDING",), state="CANCELLED", ended_at=now())
            or move_step(ctx.storage, step_id, ("RUNNING",), state="CANCEL_PENDING")
        )
        if cancelled:
            infos.append({"StepId": step_id, "Status": "SUBMITTED"})
        else:
            reason = f"Step id '{step_id}' is not valid." if state is None else f"The step is {state}."
            infos.append({"StepId": step_id, "Status": "FAILED", "Reason": reason})
    cluster_supervisor(ctx.storage).wake(cluster.id)
    return {"CancelStepsInfoList": infos}
