"""The durable cluster runner: a cluster's state lives in the database, and one thread of the server
process per cluster owns its processes. The thread starts the Spark master and workers (STARTING ->
BOOTSTRAPPING -> WAITING), runs the steps one at a time in the order they were added (RUNNING while
one runs), applies the resizes and cancellations the API records, notices workers that died, and
stops everything when the cluster terminates (TERMINATING -> TERMINATED / TERMINATED_WITH_ERRORS).

At start, clusters an earlier Nimbus process left running are ended (their processes died with it,
since every Spark process is set to die with Nimbus) and marked TERMINATED_WITH_ERRORS.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row

from nimbus.engines.spark.cluster import (
    LOOPBACK,
    SparkStartFailed,
    WorkerResources,
    spark_environment,
    start_master,
    start_worker,
)
from nimbus.engines.spark.processes import start_process, stop_group, stop_process_group
from nimbus.engines.spark.runtime import object_store_conf, role_object_conf
from nimbus.engines.spark.sandbox import Sandbox
from nimbus.engines.spark.submit import start_submit, submit_command
from nimbus.errors import AwsError
from nimbus.services.emr.instance_types import worker_resources
from nimbus.services.emr.node_bootstrap import BootstrapFailed, run_bootstrap_actions
from nimbus.services.emr.records import (
    ACTIVE_CLUSTER_STATES,
    CLUSTERS,
    INSTANCES,
    STEPS,
    cancel_pending_steps,
    cluster_instances,
    find_cluster,
    move_cluster,
    move_step,
    new_ec2_instance_id,
    new_id,
    now,
    set_cluster,
    set_instance,
)
from nimbus.services.emr.scripts import fetch_script, is_script_runner, is_spark_submit
from nimbus.services.emr.step_logs import step_log_uri, system_context, upload_step_logs
from nimbus.services.emr.written_objects import Journal
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.leases import lease_node, resource_name
from nimbus.services.sts.role_credentials import EC2, instance_profile_role, role_environment, served_at
from nimbus.storage import Storage

POLL_S = 0.25
FAILURE_TAIL_LINES = 3
MAX_INSTANCE_FAILURES = 3  # per cluster; past it, failed workers are no longer replaced
FAILURE_CODES = ("INSTANCE_FAILURE", "BOOTSTRAP_FAILURE")
# "ValueError: ...", "py4j.protocol.Py4JJavaError: ...", "Exception in thread "main" java.io...", and
# the Java exception a Py4JJavaError carries (": java.nio.file.AccessDeniedException: ..."), which says why
_EXCEPTION_LINE = re.compile(r"^(?:: )?(([\w.]*(Error|Exception)\b|Exception in thread ).*)")
RESTARTED = "The Nimbus node running the cluster stopped (restarted or died)"
LEASE_KIND = "emr/cluster"  # leases name a cluster emr/cluster/<cluster id>
LIVE_INSTANCE_STATES = ("AWAITING_FULFILLMENT", "PROVISIONING", "BOOTSTRAPPING", "RUNNING")
WORKER_ROLES = ("CORE", "TASK")


@dataclass(frozen=True)
class Node:
    instance_id: str
    ec2_instance_id: str
    role: str  # MASTER, CORE or TASK


@dataclass
class RunningStep:
    id: str
    process: subprocess.Popen[bytes]
    folder: Path
    journal: Journal
    program: str  # what the step runs: spark-submit, or its command's or script's name


class ClusterRunner:
    def __init__(self, storage: Storage, cluster_id: str) -> None:
        self.storage = storage
        self.cluster_id = cluster_id
        self.folder = storage.data_dir / "emr" / cluster_id
        # every process of the cluster (daemons, executors, drivers) writes only the cluster's folder,
        # and the object files where it has no role (set once the cluster is read)
        self.sandbox = Sandbox((self.folder,))
        self.wake = threading.Event()
        self.master: subprocess.Popen[bytes] | None = None
        self.master_worker: subprocess.Popen[bytes] | None = None  # a single-node cluster's worker
        self.master_url = ""
        self.existing_master = False  # steps go to a master this runner did not start
        self.workers: dict[str, subprocess.Popen[bytes]] = {}  # instance id -> worker process
        self.starting: set[str] = set()  # instance ids whose worker is being started
        self.lock = threading.Lock()
        self.step: RunningStep | None = None
        self.idle_since: float | None = None  # monotonic time the cluster last became idle

    def run(self) -> None:
        try:
            self._start()
            while self._tick():
                self.wake.wait(POLL_S)
                self.wake.clear()
        except SparkStartFailed as error:
            self._shut_down("INTERNAL_ERROR", str(error)[:1024])
        except BootstrapFailed as error:
            self._shut_down("BOOTSTRAP_FAILURE", str(error)[:1024])
        except Exception as error:  # a bug in Nimbus must still end the cluster, never leave it running
            self._shut_down("INTERNAL_ERROR", f"InternalError: {error!r}"[:1024])

    # ---- start -----------------------------------------------------------------------------------

    def _start(self) -> None:
        cluster = self._cluster()
        if not cluster.request.get("JobFlowRole"):  # the fast path: steps read and write objects in place
            self.sandbox = Sandbox((self.folder, self.storage.objects.root))
        if cluster.state == "TERMINATING":
            return  # terminated before it started: the loop's first look ends it
        if cluster.master_url is not None:  # NIMBUS_SPARK_MASTER: nothing to start on this machine
            self.master_url, self.existing_master = cluster.master_url, True
            move_cluster(self.storage, self.cluster_id, ("STARTING",), state="WAITING", ready_at=now())
            return
        master_group = next(g for g in cluster.instance_groups if g["InstanceGroupType"] == "MASTER")
        master_instance = next(
            i for i in cluster_instances(self.storage, self.cluster_id) if i.group_id == master_group["Id"]
        )
        node_folder = self.folder / master_instance.id
        node_folder.mkdir(parents=True)
        move_cluster(self.storage, self.cluster_id, ("STARTING",), state="BOOTSTRAPPING")
        set_instance(self.storage, master_instance.id, state="BOOTSTRAPPING")
        self._bootstrap(cluster, node_folder, master_instance.ec2_instance_id, "MASTER")
        if self._cluster().state == "TERMINATING":
            return
        self.master, self.master_url, ui_url = start_master(node_folder, self.sandbox)
        set_instance(self.storage, master_instance.id, state="RUNNING", pid=self.master.pid, ready_at=now())
        set_cluster(self.storage, self.cluster_id, master_url=self.master_url, master_ui_url=ui_url)
        if not any(g["InstanceGroupType"] in WORKER_ROLES for g in cluster.instance_groups):
            # a single-node cluster runs its executors on the master node, as EMR does
            resources = worker_resources(master_group["InstanceType"], 1)
            self.master_worker = start_worker(
                self.master_url, resources, node_folder / "worker", self.sandbox
            )
        if self._cluster().state != "TERMINATING":
            self._resize(cluster)
        self._wait_for_workers(until_terminating=True)
        failed = [
            i
            for i in cluster_instances(self.storage, self.cluster_id)
            if i.reason_code == "BOOTSTRAP_FAILURE"
        ]
        if failed:  # a node that fails its bootstrap actions at launch fails the cluster, as on EMR
            raise BootstrapFailed(str(failed[0].reason_message))
        move_cluster(self.storage, self.cluster_id, ("BOOTSTRAPPING",), state="WAITING", ready_at=now())

    def _bootstrap(self, cluster: Row[Any], node_folder: Path, ec2_instance_id: str, role: str) -> None:
        if not cluster.request.get("BootstrapActions"):
            return
        ctx = system_context(self.storage, cluster.account_id, cluster.region, cluster.caller_arn)
        run_bootstrap_actions(
            ctx,
            cluster,
            node_folder,
            ec2_instance_id,
            role,
            Sandbox((node_folder,)),  # a bootstrap script sees its node's folder, not the object files
            lambda: self._cluster().state == "TERMINATING",
        )

    def _wait_for_workers(self, until_terminating: bool) -> None:
        """Waits for the workers being started (all of them, or until the cluster is terminating)."""
        while True:
            with self.lock:
                if not self.starting:
                    return
            if until_terminating and self._cluster().state == "TERMINATING":
                return
            self.wake.wait(POLL_S)
            self.wake.clear()

    # ---- the loop --------------------------------------------------------------------------------

    def _tick(self) -> bool:
        """One look at the cluster; False once it has ended."""
        cluster = self._cluster()
        if cluster.state == "TERMINATING":
            self._shut_down(cluster.reason_code, cluster.reason_message)
            return False
        for process, what in (
            (self.master, "Spark master"),
            (self.master_worker, "master node's Spark worker"),
        ):
            if process is not None and process.poll() is not None:
                self._shut_down("INSTANCE_FAILURE", f"The {what} exited with code {process.returncode}.")
                return False
        self._notice_dead_workers()
        if not self.existing_master:
            self._resize(cluster)
        if self.step is not None:
            self._watch_step()
            if self._cluster().state == "TERMINATING":  # a failed step's TERMINATE_CLUSTER
                return True  # the next look ends it, with the step's reason
        if self.step is None and not self._start_next_step(cluster):
            if not cluster.request["Instances"].get("KeepJobFlowAliveWhenNoSteps", False):
                self._shut_down("ALL_STEPS_COMPLETED", "Steps completed")
                return False
            move_cluster(self.storage, self.cluster_id, ("RUNNING",), state="WAITING")
            self.idle_since = self.idle_since or time.monotonic()
            idle_timeout = (cluster.request.get("AutoTerminationPolicy") or {}).get("IdleTimeout")
            if idle_timeout is not None and time.monotonic() - self.idle_since >= idle_timeout:
                self._shut_down(
                    "ALL_STEPS_COMPLETED", f"Auto-terminated after being idle for {idle_timeout} seconds"
                )
                return False
        else:
            self.idle_since = None
        return self._cluster().state in ACTIVE_CLUSTER_STATES

    def _notice_dead_workers(self) -> None:
        with self.lock:
            dead = {
                instance: process for instance, process in self.workers.items() if process.poll() is not None
            }
            for instance in dead:
                del self.workers[instance]
        for instance, process in dead.items():
            stop_process_group(process)  # its executors and Python workers go with it
            set_instance(
                self.storage,
                instance,
                state="TERMINATED",
                reason_code="INSTANCE_FAILURE",
                reason_message=f"The instance's Spark worker exited with code {process.returncode}.",
                ended_at=now(),
            )

    def _resize(self, cluster: Row[Any]) -> None:
        """Starts or stops workers until each CORE and TASK group has as many live instances as it asks."""
        instances = cluster_instances(self.storage, self.cluster_id)
        # failed instances are replaced, as EMR replaces failed core nodes, but not without end
        failures = sum(1 for i in instances if i.reason_code in FAILURE_CODES)
        workers_total = sum(
            group["RequestedInstanceCount"]
            for group in cluster.instance_groups
            if group["InstanceGroupType"] in WORKER_ROLES
        )
        for group in cluster.instance_groups:
            if group["InstanceGroupType"] not in WORKER_ROLES:
                continue
            live = [i for i in instances if i.group_id == group["Id"] and i.state in LIVE_INSTANCE_STATES]
            wanted = group["RequestedInstanceCount"]
            for _ in range(wanted - len(live) if failures <= MAX_INSTANCE_FAILURES else 0):
                self._add_worker(
                    cluster, group, worker_resources(group["InstanceType"], max(1, workers_total))
                )
            # decommission the instances named for termination first, then the newest
            named = set(group.get("InstanceIdsToTerminate", ()))
            ordered = sorted(live, key=lambda i: (i.ec2_instance_id in named, i.created_at), reverse=True)
            for instance in ordered[: max(0, len(live) - wanted)]:
                self._remove_worker(instance.id, "Terminated by a resize of its instance group.")

    def _add_worker(self, cluster: Row[Any], group: dict[str, Any], resources: WorkerResources) -> None:
        instance_id, ec2_instance_id = new_id("ci-"), new_ec2_instance_id()
        with self.storage.database.engine.begin() as connection:
            connection.execute(
                insert(INSTANCES),
                {
                    "id": instance_id,
                    "cluster_id": self.cluster_id,
                    "group_id": group["Id"],
                    "ec2_instance_id": ec2_instance_id,
                    "instance_type": group["InstanceType"],
                    "state": "PROVISIONING",
                    "created_at": now(),
                },
            )
        with self.lock:
            self.starting.add(instance_id)
        node = Node(instance_id, ec2_instance_id, group["InstanceGroupType"])
        threading.Thread(
            target=self._start_worker, args=(cluster, node, resources), name=f"emr-{instance_id}", daemon=True
        ).start()

    def _start_worker(self, cluster: Row[Any], node: Node, resources: WorkerResources) -> None:
        instance_id = node.instance_id
        process = None
        failure, code = "", "INSTANCE_FAILURE"
        try:
            node_folder = self.folder / instance_id
            node_folder.mkdir(parents=True)
            set_instance(self.storage, instance_id, state="BOOTSTRAPPING")
            self._bootstrap(cluster, node_folder, node.ec2_instance_id, node.role)
            process = start_worker(self.master_url, resources, node_folder, self.sandbox)
        except BootstrapFailed as error:
            failure, code = str(error), "BOOTSTRAP_FAILURE"
        except Exception as error:  # the instance fails, never the runner
            failure = str(error) if isinstance(error, SparkStartFailed) else f"InternalError: {error!r}"
        finally:
            with self.lock:  # one step, so that a shutdown sees the worker either starting or started
                self.starting.discard(instance_id)
                if process is not None:
                    self.workers[instance_id] = process
        if process is None:
            set_instance(
                self.storage,
                instance_id,
                state="TERMINATED",
                reason_code=code,
                reason_message=failure[:1024],
                ended_at=now(),
            )
            return
        set_instance(self.storage, instance_id, state="RUNNING", pid=process.pid, ready_at=now())
        self.wake.set()

    def _remove_worker(self, instance_id: str, message: str) -> None:
        with self.lock:
            process = self.workers.pop(instance_id, None)
        if process is None:
            return  # still starting: the next look decommissions it
        stop_process_group(process)
        set_instance(self.storage, instance_id, state="TERMINATED", reason_message=message, ended_at=now())

    # ---- steps -----------------------------------------------------------------------------------

    def _start_next_step(self, cluster: Row[Any]) -> bool:
        """Starts the oldest pending step; False when none is pending."""
        with self.storage.database.engine.connect() as connection:
            step = connection.execute(
                select(STEPS)
                .where(STEPS.c.cluster_id == self.cluster_id, STEPS.c.state == "PENDING")
                .order_by(STEPS.c.position)
                .limit(1)
            ).first()
        if step is None:
            return False
        folder = self.folder / "steps" / step.id
        folder.mkdir(parents=True, exist_ok=True)
        if not move_step(self.storage, step.id, ("PENDING",), state="RUNNING", started_at=now()):
            return True  # cancelled meanwhile: look again
        move_cluster(self.storage, self.cluster_id, ("WAITING",), state="RUNNING")
        try:
            process, program = self._start_step_process(cluster, step.config["HadoopJarStep"], folder)
        except AwsError as error:  # a script-runner step's script is not in S3
            uri = step.config["HadoopJarStep"]["Args"][0]
            self._fail_unstarted(step.id, f"Unable to download the script {uri}.", error.message)
            return True
        except OSError as error:  # the command is not a program on this machine (without bwrap)
            command = step.config["HadoopJarStep"]["Args"][0]
            self._fail_unstarted(step.id, f"Cannot run program {command!r}.", str(error))
            return True
        move_step(self.storage, step.id, ("RUNNING", "CANCEL_PENDING"), pid=process.pid)
        self.step = RunningStep(step.id, process, folder, Journal(folder / "written"), program)
        return True

    def _fail_unstarted(self, step_id: str, reason: str, message: str) -> None:
        failure = {"Reason": reason, "Message": message}
        move_step(self.storage, step_id, ("RUNNING",), state="FAILED", failure=failure, ended_at=now())
        self._apply_action_on_failure(step_id)

    def _start_step_process(
        self, cluster: Row[Any], jar_step: dict[str, Any], folder: Path
    ) -> tuple[subprocess.Popen[bytes], str]:
        """A spark-submit runs against the cluster's master with Nimbus S3; any other command, and a
        script-runner step's script, runs from the step's folder, in a sandbox that holds just it."""
        arguments = jar_step.get("Args") or []
        # the nodes' role (the JobFlowRole instance profile's), through the container credentials endpoint
        profile = cluster.request.get("JobFlowRole") or ""
        role_arn = instance_profile_role(self.storage, cluster.account_id, profile.rsplit("/", 1)[-1])
        role, role_line = role_environment(self.storage, role_arn, EC2, self.cluster_id, cluster.region)
        if is_spark_submit(arguments):
            conf = {
                # on a cluster Nimbus started, the driver listens on loopback as the cluster does
                **({} if self.existing_master else {"spark.driver.host": LOOPBACK}),
                "spark.ui.enabled": "false",
                "spark.sql.warehouse.dir": str(folder / "warehouse"),
                **self._object_conf(profile, role, cluster.region, folder),
                **spark_defaults(cluster.request),
            }
            command = submit_command(self.master_url, arguments[1:], conf)
            (folder / "controller").write_text(
                f"Nimbus runs: {' '.join(command)}\n{_objects_line(profile, role_arn, role_line)}\n"
            )
            driver = start_submit(
                command, folder, not self.existing_master, self.sandbox, extra_environment=role
            )
            return driver, "spark-submit"
        if is_script_runner(jar_step["Jar"]):
            ctx = system_context(self.storage, cluster.account_id, cluster.region, cluster.caller_arn)
            arguments = [str(fetch_script(ctx, arguments[0], folder)), *arguments[1:]]
        (folder / "controller").write_text(f"Nimbus runs: {' '.join(arguments)}\n")
        environment = {**spark_environment(folder), **role}
        process = start_process(
            arguments, environment, folder, folder / "stdout", folder / "stderr", Sandbox((folder,))
        )
        return process, Path(arguments[0]).name

    def _object_conf(self, profile: str, role: dict[str, str], region: str, folder: Path) -> dict[str, str]:
        """Spark settings for s3:// paths: in place with Nimbus's rights for a cluster without a
        JobFlowRole; else calls to Nimbus's S3 API signed as the role, with the grant to its
        credentials in a file of the step's folder (executors read it there; a command line would
        show it)."""
        if not profile:
            return object_store_conf(self.storage.objects.root, folder / "written", self.existing_master)
        grant_file = folder / "role-grant"
        grant = role.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        if grant:  # else the role is gone or may not be assumed: every access is denied, saying so
            grant_file.touch(mode=0o600)
            grant_file.write_text(grant)
        ca_bundle = role.get("AWS_CA_BUNDLE", "")
        return role_object_conf(served_at(), region, grant_file, ca_bundle, self.existing_master)

    def _watch_step(self) -> None:
        assert self.step is not None
        self.step.journal.record_new_entries(self.storage)  # what the job wrote is in S3 at once
        with self.storage.database.engine.connect() as connection:
            state = connection.scalar(select(STEPS.c.state).where(STEPS.c.id == self.step.id))
        if state == "CANCEL_PENDING":
            self._end_step("CANCELLED")
        elif self.step.process.poll() is not None:
            code = self.step.process.returncode
            self._end_step("COMPLETED" if code == 0 else "FAILED")

    def _end_step(self, state: str) -> None:
        assert self.step is not None
        step, self.step = self.step, None
        stop_process_group(step.process)
        cluster = self._cluster()
        with open(step.folder / "controller", "a") as controller:
            controller.write(f"Step {state.lower()}; spark-submit exit code {step.process.returncode}\n")
        step.journal.record_new_entries(self.storage)
        log_uri = cluster.request.get("LogUri")
        if log_uri:
            ctx = system_context(self.storage, cluster.account_id, cluster.region, cluster.caller_arn)
            upload_step_logs(ctx, log_uri, self.cluster_id, step.id, step.folder)
        failure = _failure_details(step, log_uri, self.cluster_id) if state == "FAILED" else None
        move_step(
            self.storage, step.id, ("RUNNING", "CANCEL_PENDING"), state=state, failure=failure, ended_at=now()
        )
        if state == "FAILED":
            self._apply_action_on_failure(step.id)

    def _apply_action_on_failure(self, step_id: str) -> None:
        with self.storage.database.engine.connect() as connection:
            action = connection.scalar(select(STEPS.c.config).where(STEPS.c.id == step_id))["ActionOnFailure"]
        if action in ("CANCEL_AND_WAIT", "TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"):
            cancel_pending_steps(self.storage, self.cluster_id)
        if action in ("TERMINATE_CLUSTER", "TERMINATE_JOB_FLOW"):
            move_cluster(
                self.storage,
                self.cluster_id,
                ACTIVE_CLUSTER_STATES,
                state="TERMINATING",
                reason_code="STEP_FAILURE",
                reason_message="Shut down as step failed",
            )

    # ---- the end ---------------------------------------------------------------------------------

    def _shut_down(self, code: str | None, message: str | None) -> None:
        """Stops the running step, every worker and the master, then records the cluster's end:
        TERMINATED after a user's request or the last step, TERMINATED_WITH_ERRORS after a failure."""
        move_cluster(self.storage, self.cluster_id, ACTIVE_CLUSTER_STATES, state="TERMINATING")
        if self.step is not None:
            self._end_step("CANCELLED")
        cancel_pending_steps(self.storage, self.cluster_id)
        self._wait_for_workers(until_terminating=False)  # a worker half started is stopped with the rest
        with self.lock:
            processes = [*self.workers.values(), *(p for p in (self.master_worker, self.master) if p)]
            self.workers.clear()
        for process in processes:
            stop_process_group(process)
        final = "TERMINATED" if code in ("USER_REQUEST", "ALL_STEPS_COMPLETED") else "TERMINATED_WITH_ERRORS"
        end_instances(self.storage, self.cluster_id)
        set_cluster(
            self.storage,
            self.cluster_id,
            state=final,
            reason_code=code,
            reason_message=message,
            ended_at=now(),
        )
        shutil.rmtree(self.folder, ignore_errors=True)

    def _cluster(self) -> Row[Any]:
        cluster = find_cluster(self.storage, self.cluster_id)
        assert cluster is not None
        return cluster


def _objects_line(profile: str, role_arn: str, role_line: str) -> str:
    """The controller log's line on the rights s3:// paths are read and written with."""
    if not profile:
        return "The cluster has no JobFlowRole: s3:// paths are read and written with Nimbus's rights."
    if not role_arn:
        return f"The instance profile {profile} holds no role: every access to s3:// paths is denied."
    return f"s3:// paths are calls to Nimbus's S3 API as {role_arn} ({role_line})."


def spark_defaults(request: dict[str, Any]) -> dict[str, str]:
    """The properties of the cluster's ``spark-defaults`` configurations."""
    properties: dict[str, str] = {}
    for configuration in request.get("Configurations") or []:
        if configuration.get("Classification") == "spark-defaults":
            properties.update(configuration.get("Properties") or {})
    return properties


def _failure_details(step: RunningStep, log_uri: str | None, cluster_id: str) -> dict[str, Any]:
    """EMR's FailureDetails: the last exception the driver printed (spark-submit passes a Python
    driver's traceback to its stdout, a JVM driver's goes to stderr), and where the log is."""
    lines: list[str] = []
    reason, reason_file = "Unknown Error.", "stderr"
    for name in ("stderr", "stdout"):
        path = step.folder / name
        found = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
        errors = [match.group(1) for line in found if (match := _EXCEPTION_LINE.match(line))]
        if errors:
            reason, reason_file = errors[-1], name
        lines += found
    details = {
        "Reason": reason[:256],
        "Message": f"{step.program} exited with code {step.process.returncode}: "
        + " | ".join(lines[-FAILURE_TAIL_LINES:])[-900:],
    }
    if log_uri:
        details["LogFile"] = step_log_uri(log_uri, cluster_id, step.id, reason_file)
    return details


def end_instances(storage: Storage, cluster_id: str) -> None:
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(INSTANCES)
            .where(INSTANCES.c.cluster_id == cluster_id, INSTANCES.c.state != "TERMINATED")
            .values(state="TERMINATED", reason_code="CLUSTER_TERMINATED", ended_at=now())
        )


class ClusterSupervisor:
    """This process's cluster runners, one thread each."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.runners: dict[str, ClusterRunner] = {}
        self._lock = threading.Lock()

    def launch(self, cluster_id: str) -> None:
        runner = ClusterRunner(self.storage, cluster_id)
        with self._lock:
            self.runners[cluster_id] = runner
        # held while it runs here; a request through another node wakes it at once (else within POLL_S)
        lease_node(self.storage).hold(resource_name(LEASE_KIND, (cluster_id,)), runner.wake.set)
        threading.Thread(target=self._run, args=(runner,), name=f"emr-{cluster_id}", daemon=True).start()

    def _run(self, runner: ClusterRunner) -> None:
        try:
            runner.run()
        finally:
            with self._lock:
                self.runners.pop(runner.cluster_id, None)
            lease_node(self.storage).release(resource_name(LEASE_KIND, (runner.cluster_id,)))

    def wake(self, cluster_id: str) -> None:
        with self._lock:
            runner = self.runners.get(cluster_id)
        if runner is not None:
            runner.wake.set()


def end_interrupted_clusters(storage: Storage) -> None:
    """Clusters whose node stopped (their lease expired) while they were active: whatever of them
    still runs here is stopped (only processes whose working folder is the cluster's, in case a PID
    was reused), and they end."""
    with storage.database.engine.connect() as connection:
        active = connection.execute(
            select(CLUSTERS.c.id, CLUSTERS.c.created_at).where(CLUSTERS.c.state.in_(ACTIVE_CLUSTER_STATES))
        ).all()
    for (cluster_id,) in lease_node(storage).orphans(
        LEASE_KIND, [((id_,), created) for id_, created in active]
    ):
        folder = storage.data_dir / "emr" / cluster_id
        with storage.database.engine.connect() as connection:
            pids = [
                *connection.scalars(select(INSTANCES.c.pid).where(INSTANCES.c.cluster_id == cluster_id)),
                *connection.scalars(select(STEPS.c.pid).where(STEPS.c.cluster_id == cluster_id)),
            ]
        for pid in pids:
            if pid is not None and _works_in(pid, folder):
                stop_group(pid)
        with storage.database.engine.begin() as connection:
            connection.execute(
                update(STEPS)
                .where(
                    STEPS.c.cluster_id == cluster_id,
                    STEPS.c.state.in_(("PENDING", "RUNNING", "CANCEL_PENDING")),
                )
                .values(state="CANCELLED", ended_at=now())
            )
        end_instances(storage, cluster_id)
        set_cluster(
            storage,
            cluster_id,
            state="TERMINATED_WITH_ERRORS",
            reason_code="INTERNAL_ERROR",
            reason_message=RESTARTED,
            ended_at=now(),
        )
        shutil.rmtree(folder, ignore_errors=True)


def _works_in(pid: int, folder: Path) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/cwd").startswith(str(folder))
    except OSError:
        return False


cluster_supervisor: RunnerPerStorage[ClusterSupervisor] = RunnerPerStorage(
    ClusterSupervisor, end_interrupted_clusters, leased=True
)
"""This process's ClusterSupervisor for a storage, made on first use after end_interrupted_clusters ran."""
