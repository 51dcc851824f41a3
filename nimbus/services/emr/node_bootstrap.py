"""Bootstrap actions on a node, as EMR runs them: before the node's Spark daemon starts, each of the
cluster's actions in turn has its script fetched from S3 and run with the action's arguments (the
script names its interpreter, ``#!/bin/bash`` for example). Here a node is a folder: the script runs
from it, with it as HOME, in a sandbox that holds just that folder, so what it writes there stays
for the node's Spark processes; the host's programs are read-only, and it sees no object files. Its
stdout and stderr go to the LogUri, in EMR's layout. The first action that cannot be fetched or
exits non-zero fails the node."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nimbus.engines.spark.cluster import spark_environment
from nimbus.engines.spark.processes import start_process, stop_process_group
from nimbus.engines.spark.sandbox import Sandbox
from nimbus.errors import AwsError
from nimbus.services.emr.scripts import fetch_script
from nimbus.services.emr.step_logs import bootstrap_log_prefix, upload_logs
from nimbus.services.registry import RequestContext

POLL_S = 0.2


class BootstrapFailed(Exception):
    """A node's bootstrap action failed; the message is EMR's StateChangeReason message."""


def run_bootstrap_actions(
    ctx: RequestContext,
    cluster: Any,
    node_folder: Path,
    ec2_instance_id: str,
    role: str,
    sandbox: Sandbox,
    stopping: Callable[[], bool],
) -> None:
    """Runs the cluster's bootstrap actions on one node (``role`` MASTER, CORE or TASK); raises
    BootstrapFailed for the first that fails. Returns early, without running the rest, once
    ``stopping()`` says the cluster is terminating."""
    node = f"{role.lower()} instance ({ec2_instance_id})"
    log_uri = cluster.request.get("LogUri")
    for number, action in enumerate(cluster.request.get("BootstrapActions") or [], start=1):
        script = action["ScriptBootstrapAction"]
        folder = node_folder / "bootstrap-actions" / str(number)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            executable = fetch_script(ctx, script["Path"], folder)
        except AwsError:
            raise BootstrapFailed(
                f"{node.capitalize()} failed attempting to download bootstrap action {number} file from S3"
            ) from None
        code = _run([str(executable), *script.get("Args", [])], node_folder, folder, sandbox, stopping)
        if log_uri:
            upload_logs(ctx, bootstrap_log_prefix(log_uri, cluster.id, ec2_instance_id, number), folder)
        if code is None:
            return
        if code != 0:
            raise BootstrapFailed(f"On the {node}, bootstrap action {number} returned a non-zero return code")


def _run(
    command: list[str], node_folder: Path, folder: Path, sandbox: Sandbox, stopping: Callable[[], bool]
) -> int | None:
    """The script's exit code; None if the cluster began terminating while it ran (it is stopped)."""
    environment = spark_environment(node_folder)
    process = start_process(command, environment, node_folder, folder / "stdout", folder / "stderr", sandbox)
    while process.poll() is None:
        if stopping():
            stop_process_group(process)
            return None
        time.sleep(POLL_S)
    return process.returncode
