"""The notebook runner: each InService notebook instance is a JupyterLab server (from PyPI, pinned in
pyproject.toml) in its own sandbox, listening on a loopback port that only Nimbus's proxy uses
(with a token only Nimbus knows). The instance's home, ``/home/ec2-user`` (notebooks in
``/home/ec2-user/SageMaker``), is a folder under the data dir kept across stop and start; nothing
else of the data dir is visible inside.

Its kernels are pre-configured against this Nimbus: AWS_ENDPOINT_URL is Nimbus, the instance's
RoleArn's credentials come from Nimbus's container credentials endpoint (as jobs' do), and
``/opt/ml/metadata/resource-metadata.json`` names the instance (so the SageMaker SDK's
``get_execution_role()`` reads its RoleArn from DescribeNotebookInstance), and the SDK's admin config
sets its default bucket (``sagemaker-<region>-<account>``) and opts out of telemetry.

Lifecycle scripts run before the server, as on AWS: on-create once, on-start at every start, each
``/bin/bash`` in the same sandbox for at most five minutes, their output in the instance's log group.

With several nodes, an instance's server runs on exactly one node, the holder of its lease
(``sagemaker/notebook-instance/<account>/<region>/<name>``) from its start until it stops. A stop
through another node flags the lease for the owner's heartbeat; when the owner dies, the first node
whose heartbeat finds the lease expired starts the server again (on-start runs again, as after a
reboot), and the other nodes' proxies forward to it (gateway/notebook_proxy.py).
"""

from __future__ import annotations

import base64
import functools
import http.client
import importlib.util
import json
import secrets
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from nimbus.engines.bubblewrap import bwrap_available
from nimbus.engines.learn.runs import Program
from nimbus.engines.learn.sandbox import Bind, start_long_lived, stop_sandboxed
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.leases import lease_node, resource_name
from nimbus.services.sagemaker.instances import instance_limits
from nimbus.services.sagemaker.notebooks.access import notebook_path
from nimbus.services.sagemaker.notebooks.records import (
    INSTANCES,
    LOG_GROUP,
    InstanceKey,
    find_instance,
    find_lifecycle_config,
    instance_arn,
    lifecycle_config_arn,
    move,
)
from nimbus.services.sagemaker.sandbox_runs import LogStream, run_logged
from nimbus.services.sts.role_credentials import SAGEMAKER, role_environment
from nimbus.storage import Storage

HOME = "/home/ec2-user"
NOTEBOOK_DIR = f"{HOME}/SageMaker"
METADATA = "metadata"  # /opt/ml/metadata
SCRIPT_LIMIT_S = 300
READY_TIMEOUT_S = 180.0
PROBE_INTERVAL_S = 0.25
LEASE_KIND = "sagemaker/notebook-instance"


class NotebookFailure(Exception):
    """Why the instance failed to start, as its FailureReason says it."""


@dataclass
class Server:
    """A running Jupyter server: where the proxy reaches it."""

    process: subprocess.Popen[bytes]
    port: int
    token: str


class NotebookRunner:
    """Runs the servers of the instances whose leases this node holds; its heartbeat takes over those
    of nodes that died."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.node = lease_node(storage)
        self._servers: dict[InstanceKey, Server] = {}
        self._lock = threading.Lock()
        self._take_over(storage)
        self.node.settle_every_beat(self._take_over)

    def start(self, key: InstanceKey) -> None:
        """Starts a Pending instance here, in the background, holding its lease: scripts, then the
        server; InService or Failed."""
        self.node.hold(resource_name(LEASE_KIND, key), functools.partial(self._stop_here, key))
        threading.Thread(target=self._start, args=(key,), name=f"notebook-{key[2]}", daemon=True).start()

    def stop(self, key: InstanceKey) -> None:
        """Stops a Stopping instance's server: at once if it runs here, else at its node's next
        heartbeat (or, if that node died, at the takeover); Stopped."""
        self.node.request_stop(resource_name(LEASE_KIND, key))

    def _stop_here(self, key: InstanceKey) -> None:
        """A stop was asked through any node, or another node took the lease over: the server stops
        here; a Stopping instance is Stopped."""
        with self._lock:
            server = self._servers.pop(key, None)
        if server is not None:
            stop_sandboxed(server.process)
        # the lease goes first: a start through another node waits for Stopped, then finds it free
        self.node.release(resource_name(LEASE_KIND, key))
        move(self.storage, key, "Stopped", ("Stopping",))

    def _take_over(self, storage: Storage) -> None:
        """Instances whose node died (their lease expired, or they never got one): those being stopped
        are Stopped; those running or starting start again here, as after a reboot."""
        rows = _instances(storage, ("Pending", "InService", "Stopping"))
        stopping = [(key, modified) for key, status, modified in rows if status == "Stopping"]
        for key in self.node.orphans(LEASE_KIND, stopping):
            move(storage, key, "Stopped", ("Stopping",))
        running = [(key, modified) for key, status, modified in rows if status != "Stopping"]
        for key in self.node.orphans(LEASE_KIND, running, keep=True):
            if move(storage, key, "Pending", ("InService", "Pending")):
                self.start(key)
            else:  # stopped or deleted meanwhile
                self.node.release(resource_name(LEASE_KIND, key))

    def server(self, key: InstanceKey) -> Server | None:
        with self._lock:
            server = self._servers.get(key)
        return server if server is not None and server.process.poll() is None else None

    def folder(self, key: InstanceKey) -> Path:
        return self.storage.data_dir.joinpath("sagemaker", "notebooks", *key)

    def _start(self, key: InstanceKey) -> None:
        resource = resource_name(LEASE_KIND, key)
        try:
            server = self._boot(key)
        except Exception as error:  # a bug in Nimbus too must end the start, never leave it Pending
            reason = str(error) if isinstance(error, NotebookFailure) else f"InternalServerError: {error!r}"
            if self.node.holds(resource):  # else stopped, or taken over by another node, meanwhile
                self.node.release(resource)
                move(self.storage, key, "Failed", ("Pending",), failure_reason=reason[:1024])
            return
        with self._lock:
            self._servers[key] = server
        # stopped, deleted or taken over by another node (this one paused past its lease) meanwhile
        if not self.node.holds(resource) or not move(self.storage, key, "InService", ("Pending",)):
            with self._lock:
                self._servers.pop(key, None)
            stop_sandboxed(server.process)

    def _boot(self, key: InstanceKey) -> Server:
        instance = find_instance(self.storage, key)
        assert instance is not None
        if not bwrap_available():
            raise NotebookFailure("Notebook instances need bubblewrap (bwrap) for their sandbox.")
        if importlib.util.find_spec("jupyterlab") is None:
            raise NotebookFailure("JupyterLab is not installed here: pip install 'nimbus[notebooks]'.")
        folder = self.folder(key)
        (folder / "home" / "SageMaker").mkdir(parents=True, exist_ok=True)
        _write_metadata(folder / METADATA, key, instance.request)
        binds = [Bind(folder / "home", HOME, writable=True), Bind(folder / METADATA, METADATA)]
        environment = self._kernel_environment(key, instance)
        config_name = instance.request.get("LifecycleConfigName")
        config = find_lifecycle_config(self.storage, (key[0], key[1], config_name)) if config_name else None
        if config is not None and not instance.started_once:
            self._run_script(key, instance, config, "OnCreate", config.on_create, binds, environment)
        move(self.storage, key, "Pending", ("Pending",), started_once=True)
        if config is not None:
            self._run_script(key, instance, config, "OnStart", config.on_start, binds, environment)
        return self._launch(key, instance, binds, environment)

    def _kernel_environment(self, key: InstanceKey, instance: Any) -> dict[str, str]:
        """What the server, and so every kernel, terminal and lifecycle script, has in its environment."""
        role, note = role_environment(self.storage, instance.request["RoleArn"], SAGEMAKER, key[2], key[1])
        LogStream(key[0], key[1], LOG_GROUP, f"{key[2]}/jupyter.log").say(self.storage, note)
        admin_config = f"/opt/ml/{METADATA}/sagemaker-config.json"
        return {**role, "SAGEMAKER_ADMIN_CONFIG_OVERRIDE": admin_config, "SHELL": "/bin/bash"}

    def _run_script(
        self,
        key: InstanceKey,
        instance: Any,
        config: Any,
        kind: str,
        scripts: list[dict[str, str]],
        binds: list[Bind],
        environment: dict[str, str],
    ) -> None:
        """Runs the configuration's script of ``kind`` (OnCreate / OnStart) as AWS does: bash, as root,
        five minutes at most; NotebookFailure when it fails."""
        if not scripts:
            return
        script = self.folder(key) / METADATA / f"{kind}.sh"
        script.write_bytes(base64.b64decode(scripts[0]["Content"]))
        program = Program(
            ["/bin/bash", f"/opt/ml/{METADATA}/{kind}.sh"],
            self.folder(key),
            binds,
            instance.request["InstanceType"],
            environment=environment,
            network=True,
            home=HOME,
        )
        stream = LogStream(key[0], key[1], LOG_GROUP, f"{key[2]}/LifecycleConfig{kind}")
        outcome = run_logged(
            self.storage, program, stream, threading.Event(), time.monotonic() + SCRIPT_LIMIT_S
        )
        config_arn = lifecycle_config_arn((key[0], key[1], config.name))
        if outcome.code == "MaxRuntimeExceeded":
            raise NotebookFailure(
                f"Notebook Instance Lifecycle Config '{config_arn}' for Notebook Instance "
                f"'{instance_arn(key)}' took longer than 5 minutes. Please check your CloudWatch logs."
            )
        if outcome.code != 0:
            raise NotebookFailure(
                f"Notebook Instance Lifecycle Config '{config_arn}' for Notebook Instance "
                f"'{instance_arn(key)}' failure: exit code {outcome.code}. Please check your CloudWatch logs."
            )

    def _launch(
        self, key: InstanceKey, instance: Any, binds: list[Bind], environment: dict[str, str]
    ) -> Server:
        port, token = _free_port(), secrets.token_urlsafe(32)
        base = notebook_path(key[1], key[2])
        command = [
            "python",
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",  # root inside the sandbox's user namespace only
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={base}",
            f"--ServerApp.root_dir={NOTEBOOK_DIR}",
            f"--IdentityProvider.token={token}",
            # only Nimbus's proxy reaches the server: it checks the session and the Origin itself
            "--ServerApp.allow_remote_access=True",
            "--ServerApp.allow_origin=*",
        ]
        process = start_long_lived(
            command,
            self.folder(key),
            binds,
            instance_limits(instance.request["InstanceType"]),
            environment=environment,
            network=True,
            home=HOME,
        )
        stream = LogStream(key[0], key[1], LOG_GROUP, f"{key[2]}/jupyter.log")
        threading.Thread(target=_relay, args=(self.storage, process, stream), daemon=True).start()
        server = Server(process, port, token)
        _wait_ready(server, base)
        return server


@dataclass(frozen=True)
class NotebookAccess:
    """What the proxy needs of an instance: the secret its tokens are signed with, whether it is
    InService, its server (None while it is not InService in this process), and the address of the
    live node whose server it is when that is another node (None otherwise)."""

    secret: str
    in_service: bool
    server: Server | None
    owner: str | None


def notebook_access(storage: Storage, region: str, name: str) -> NotebookAccess | None:
    """The instance of this Nimbus's account named ``name`` in ``region``; None when there is none."""
    key = (storage.credentials.root().account_id, region, name)
    instance = find_instance(storage, key)
    if instance is None:
        return None
    if instance.status != "InService":
        return NotebookAccess(instance.token_secret, False, None, None)
    server = notebook_runner(storage).server(key)
    owner = None if server else _owner_address(storage, key)
    return NotebookAccess(instance.token_secret, True, server, owner)


def _owner_address(storage: Storage, key: InstanceKey) -> str | None:
    """The address of the live node, other than this one, that runs the instance's server."""
    node = lease_node(storage)
    holder = node.holder(resource_name(LEASE_KIND, key))
    if holder is None or not holder.live or holder.owner == node.id:
        return None
    return holder.address


def _write_metadata(folder: Path, key: InstanceKey, request: dict[str, Any]) -> None:
    """``/opt/ml/metadata``: the instance's resource metadata (as AWS writes it) and the SageMaker
    SDK's admin config."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    metadata = {"ResourceArn": instance_arn(key), "ResourceName": key[2]}
    (folder / "resource-metadata.json").write_text(json.dumps(metadata))
    sdk = {
        "SchemaVersion": "1.0",
        "SageMaker": {
            "PythonSDK": {
                "Modules": {
                    "Session": {"DefaultS3Bucket": f"sagemaker-{key[1]}-{key[0]}"},
                    "TelemetryOptOut": True,
                }
            }
        },
    }
    (folder / "sagemaker-config.json").write_text(json.dumps(sdk))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _relay(storage: Storage, process: subprocess.Popen[bytes], stream: LogStream) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        stream.say(storage, raw.decode("utf-8", errors="replace").rstrip("\n"))


def _wait_ready(server: Server, base: str) -> None:
    """Until the server answers its status API; NotebookFailure when it exits or never does."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise NotebookFailure(f"The Jupyter server exited with status {server.process.returncode}.")
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
        try:
            connection.request("GET", f"{base}api/status", headers={"Authorization": f"token {server.token}"})
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(PROBE_INTERVAL_S)
    stop_sandboxed(server.process)
    raise NotebookFailure(f"The Jupyter server did not answer within {READY_TIMEOUT_S:.0f} seconds.")


def _instances(storage: Storage, statuses: tuple[str, ...]) -> list[tuple[InstanceKey, str, datetime]]:
    """The instances in these statuses: key, status and when each last changed."""
    columns = INSTANCES.c
    query = select(columns.account_id, columns.region, columns.name, columns.status, columns.last_modified)
    with storage.database.engine.connect() as connection:
        rows = connection.execute(query.where(columns.status.in_(statuses))).all()
    return [
        ((account_id, region, name), status, modified) for account_id, region, name, status, modified in rows
    ]


# made on first use (at the latest, at start): it takes over the instances of the nodes that stopped
notebook_runner: RunnerPerStorage[NotebookRunner] = RunnerPerStorage(NotebookRunner, lambda storage: None)
"""This process's NotebookRunner for a storage."""
