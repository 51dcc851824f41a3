"""EMR pages: clusters, instance groups (resize), steps (add, cancel) with their stdout and stderr,
read from the cluster's LogUri through S3 as EMR writes them there; a link to the Spark master's web UI
while it answers."""

from __future__ import annotations

import shlex
import urllib.error
import urllib.request
import zlib
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

LOG_NAMES = ("stdout", "stderr", "controller")
LOG_BYTES = 4 * 1024 * 1024  # of gzip: a step's log beyond this shows its start only
ACTIONS_ON_FAILURE = ("CONTINUE", "CANCEL_AND_WAIT", "TERMINATE_CLUSTER")
ACTIVE_STATES = ["STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"]
UI_STATES = ("RUNNING", "WAITING")
UI_PROBE_S = 1.0  # the UI is on loopback: one that does not answer at once is not linked


def clusters(ctx: ConsoleRequest) -> Page:
    parameters: dict[str, Any] = {"ClusterStates": ACTIVE_STATES} if ctx.query("active") else {}
    found, following = ctx.one_page(ctx.client("emr").list_clusters, "Clusters", "Marker", **parameters)
    data = {"clusters": found, "active": ctx.query("active"), "next": following}
    return Page("emr_clusters.html", data, title="EMR clusters")


def cluster(ctx: ConsoleRequest) -> Page:
    cluster_id = ctx.path("cluster")
    emr = ctx.client("emr")
    described = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    steps, following = ctx.one_page(emr.list_steps, "Steps", "Marker", ClusterId=cluster_id)
    data = {
        "cluster": described,
        "groups": _instance_groups(ctx, cluster_id, described),
        "steps": steps,
        "master_ui": _master_ui(ctx, described),
        "actions": ACTIONS_ON_FAILURE,
        "next": following,
    }
    return Page("emr_cluster.html", data, title=described.get("Name", cluster_id))


def _instance_groups(ctx: ConsoleRequest, cluster_id: str, described: dict[str, Any]) -> list[dict[str, Any]]:
    if described.get("InstanceCollectionType") == "INSTANCE_FLEET":
        return []  # fleets are resized with ModifyInstanceFleet, which this page does not offer
    groups: list[dict[str, Any]] = ctx.client("emr").list_instance_groups(ClusterId=cluster_id)[
        "InstanceGroups"
    ]
    return groups


def _master_ui(ctx: ConsoleRequest, described: dict[str, Any]) -> str | None:
    """The Spark master UI's URL from GetOnClusterAppUIPresignedURL, if it is on loopback and answers."""
    if described["Status"]["State"] not in UI_STATES:
        return None
    try:
        answer = ctx.client("emr").get_on_cluster_app_ui_presigned_url(
            ClusterId=described["Id"], OnClusterAppUIType="ResourceManager"
        )
    except ClientError:  # a cluster on an existing Spark master, whose UI Nimbus does not know
        return None
    ui_url: str | None = answer.get("PresignedURL")
    if not ui_url or urlsplit(ui_url).hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    try:
        with urllib.request.urlopen(ui_url, timeout=UI_PROBE_S) as response:
            return ui_url if response.status == 200 else None
    except (urllib.error.URLError, TimeoutError):
        return None


def resize(ctx: ConsoleRequest) -> Done:
    cluster_id = ctx.path("cluster")
    count = int(ctx.field("count") or 0)
    ctx.client("emr").modify_instance_groups(
        ClusterId=cluster_id, InstanceGroups=[{"InstanceGroupId": ctx.field("group"), "InstanceCount": count}]
    )
    return Done(url(f"/emr/{cluster_id}"), f"Resizing the group to {count} instance(s).")


def add_step(ctx: ConsoleRequest) -> Done:
    cluster_id = ctx.path("cluster")
    step = {
        "Name": ctx.field("name") or "Console step",
        "ActionOnFailure": ctx.field("action_on_failure") or "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": shlex.split(ctx.field("command"))},
    }
    added = ctx.client("emr").add_job_flow_steps(JobFlowId=cluster_id, Steps=[step])["StepIds"]
    return Done(url(f"/emr/{cluster_id}"), f"Step {added[0]} added.", {"StepIds": added})


def cancel_steps(ctx: ConsoleRequest) -> Done:
    cluster_id, steps = ctx.path("cluster"), ctx.fields("step")
    answers = ctx.client("emr").cancel_steps(ClusterId=cluster_id, StepIds=steps)["CancelStepsInfoList"]
    said = "; ".join(
        f"{answer['StepId']}: {answer['Status']} {answer.get('Reason', '')}" for answer in answers
    )
    return Done(url(f"/emr/{cluster_id}"), said or "No step selected.")


def terminate(ctx: ConsoleRequest) -> Done:
    cluster_id = ctx.path("cluster")
    ctx.client("emr").terminate_job_flows(JobFlowIds=[cluster_id])
    return Done(url(f"/emr/{cluster_id}"), "Terminating the cluster.")


def step_log(ctx: ConsoleRequest) -> Page:
    cluster_id, step_id = ctx.path("cluster"), ctx.path("step")
    name = ctx.query("name") if ctx.query("name") in LOG_NAMES else "stdout"
    emr = ctx.client("emr")
    step = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]
    log_uri = emr.describe_cluster(ClusterId=cluster_id)["Cluster"].get("LogUri", "")
    data = {
        "cluster_id": cluster_id,
        "step": step,
        "name": name,
        "names": LOG_NAMES,
        "log_uri": log_uri,
        "text": _log_text(ctx, log_uri, cluster_id, step_id, name) if log_uri else None,
    }
    return Page("emr_step_log.html", data, title=f"{step_id} {name}")


def _log_text(ctx: ConsoleRequest, log_uri: str, cluster_id: str, step_id: str, name: str) -> str | None:
    """The step's ``<LogUri>/<cluster>/steps/<step>/<name>.gz``, or None until EMR has written it."""
    bucket, _, prefix = log_uri.split("://", 1)[1].partition("/")
    key = f"{prefix.rstrip('/')}/{cluster_id}/steps/{step_id}/{name}.gz".lstrip("/")
    try:
        body = (
            ctx.client("s3")
            .get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{LOG_BYTES - 1}")["Body"]
            .read()
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    try:  # a log cut at LOG_BYTES decompresses up to the cut
        return (
            zlib.decompressobj(wbits=zlib.MAX_WBITS | 16).decompress(body).decode("utf-8", errors="replace")
        )
    except zlib.error:
        return f"{key} is not gzip."


ROUTES = [
    get("/emr", clusters),
    get("/emr/{cluster}", cluster),
    post("/emr/{cluster}/resize", resize),
    post("/emr/{cluster}/steps", add_step),
    post("/emr/{cluster}/steps/cancel", cancel_steps),
    post("/emr/{cluster}/terminate", terminate),
    get("/emr/{cluster}/steps/{step}/log", step_log),
]
