"""Steps: AddJobFlowSteps, ListSteps, DescribeStep, CancelSteps. A step is a ``command-runner.jar``
command (``spark-submit`` in client mode against the cluster's master, or any other) or a
``script-runner.jar`` script, which the cluster's runner starts."""

from __future__ import annotations

import re
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
from nimbus.services.emr.scripts import is_command_runner, is_script_runner
from nimbus.services.registry import RequestContext

PAGE_SIZE = 50
S3_SCRIPT = re.compile(r"^s3n?://[^/]+/.*[^/]$")
DEFAULT_ACTION_ON_FAILURE = "TERMINATE_CLUSTER"


def check_step(step: dict[str, Any]) -> None:
    """Nimbus runs ``command-runner.jar`` steps (any command) and ``script-runner.jar`` steps (a script
    from S3); custom JARs would need Hadoop MapReduce, which Nimbus does not run."""
    jar_step = step["HadoopJarStep"]
    jar, arguments = jar_step["Jar"], jar_step.get("Args") or []
    if is_script_runner(jar):
        if not arguments or not S3_SCRIPT.match(arguments[0]):
            raise validation_error(
                f"Step {step['Name']!r}: script-runner.jar runs the script its first argument names, "
                "an s3:// URI of a bucket and key."
            )
    elif not is_command_runner(jar):
        raise validation_error(
            f"Step {step['Name']!r}: Nimbus runs command-runner.jar and script-runner.jar steps; "
            f"{jar!r} is a custom JAR, which needs Hadoop MapReduce."
        )
    elif not arguments:
        raise validation_error(f"Step {step['Name']!r}: command-runner.jar needs the command to run in Args.")


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
    """Nimbus runs ``command-runner.jar`` and ``script-runner.jar`` steps; custom JARs are refused
    (no Hadoop MapReduce). A ``spark-submit`` command runs in client mode against the cluster's own
    master, whatever ``--master`` / ``--deploy-mode`` say; its ``s3://``, ``s3a://`` and ``s3n://``
    paths (the application file too) are, on a cluster with a JobFlowRole, calls to Nimbus's S3 API
    signed with the role's temporary credentials (HeadObject, GetObject with Range, PutObject or a
    multipart upload, ListObjectsV2, CopyObject, DeleteObject(s), as S3A makes them), each authorized
    as any S3 call; on a cluster without one, Nimbus S3's object files, read and written in place,
    an object the job writes listed by S3 as soon as its file is closed (within a quarter second).
    The driver, like the cluster's executors, runs in a bubblewrap sandbox that can write only the
    cluster's folder (and, without a JobFlowRole, the object files), and sees nothing else of the
    data dir (no database, no credentials). Any other command, and a script-runner script (fetched
    from S3, its interpreter named on its first line), runs on the master node from the step's own
    folder, in a sandbox that holds just that folder: it does not see the object files; the host's
    programs are read-only. Steps run one at a time (StepConcurrencyLevel 1); ExecutionRoleArn is not used."""
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
