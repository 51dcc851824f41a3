"""A Spark standalone cluster on loopback: one master JVM and any number of worker JVMs, each started
with the ``spark-class`` of the ``pyspark`` package and each in its own folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nimbus.engines.spark.processes import start_process, stop_process_group
from nimbus.engines.spark.runtime import spark_home
from nimbus.engines.spark.sandbox import Sandbox

LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 180.0  # JVM start on a busy 2-core machine takes tens of seconds
POLL_S = 0.2
WORKER_REGISTERED = "Successfully registered with master"


class SparkStartFailed(Exception):
    """A master or worker exited, or did not come up in time; the message says which and why."""


@dataclass(frozen=True)
class WorkerResources:
    cores: int
    memory_mb: int


def spark_environment(folder: Path) -> dict[str, str]:
    """The environment of every Spark process: only what Spark needs, nothing of Nimbus's own
    (credentials, NIMBUS_* settings); loopback addresses; executors run this Python."""
    conf_dir = folder / "conf"
    conf_dir.mkdir(parents=True, exist_ok=True)  # empty: no spark-defaults.conf of the machine's
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(folder),
        "LANG": "C.UTF-8",
        "SPARK_HOME": str(spark_home()),
        "SPARK_CONF_DIR": str(conf_dir),
        "SPARK_LOCAL_IP": LOOPBACK,  # RPC and web UIs bind loopback only
        "SPARK_LOCAL_DIRS": str(folder / "local"),
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
        # the master and worker daemons only coordinate: a quick-starting JVM suits them
        "SPARK_DAEMON_JAVA_OPTS": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
    }
    if "JAVA_HOME" in os.environ:
        environment["JAVA_HOME"] = os.environ["JAVA_HOME"]
    return environment


def start_master(folder: Path, sandbox: Sandbox | None = None) -> tuple[subprocess.Popen[bytes], str, str]:
    """Starts a master in ``folder``; returns its process, ``spark://`` URL and web UI's ``http://``
    URL once it accepts workers (the UI on a port picked here, so that it can be linked to)."""
    folder.mkdir(parents=True, exist_ok=True)
    port, ui_port = _free_port(), _free_port()
    process = start_process(
        [
            str(spark_home() / "bin" / "spark-class"),
            "org.apache.spark.deploy.master.Master",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--webui-port",
            str(ui_port),
        ],
        spark_environment(folder),
        folder,
        folder / "stdout",
        folder / "stderr",
        sandbox,
    )
    _wait(process, folder / "stderr", "master", lambda: _accepts(port))
    return process, f"spark://{LOOPBACK}:{port}", f"http://{LOOPBACK}:{ui_port}/"


def start_worker(
    master_url: str, resources: WorkerResources, folder: Path, sandbox: Sandbox | None = None
) -> subprocess.Popen[bytes]:
    """Starts a worker in ``folder`` offering ``resources``; returns it once the master registered it.
    The executors it starts for applications run in its sandbox."""
    (folder / "work").mkdir(parents=True, exist_ok=True)
    log = folder / "stderr"
    process = start_process(
        [
            str(spark_home() / "bin" / "spark-class"),
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            LOOPBACK,
            "--cores",
            str(resources.cores),
            "--memory",
            f"{resources.memory_mb}m",
            "--webui-port",
            "0",
            "--work-dir",
            str(folder / "work"),
            master_url,
        ],
        spark_environment(folder),
        folder,
        folder / "stdout",
        log,
        sandbox,
    )
    _wait(
        process, log, "worker", lambda: log.exists() and WORKER_REGISTERED in log.read_text(errors="replace")
    )
    return process


def _wait(process: subprocess.Popen[bytes], log: Path, what: str, ready: Callable[[], bool]) -> None:
    """Returns once ``ready()``; stops the process and raises SparkStartFailed if it exits or times out."""
    try:
        _poll(process, log, what, ready)
    except SparkStartFailed:
        stop_process_group(process)
        raise


def _poll(process: subprocess.Popen[bytes], log: Path, what: str, ready: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready():
            return
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
            raise SparkStartFailed(
                f"the Spark {what} exited with code {process.returncode}: {' | '.join(tail)}"
            )
        time.sleep(POLL_S)
    raise SparkStartFailed(f"the Spark {what} did not start within {READY_TIMEOUT_S:.0f} s")


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((LOOPBACK, port)) == 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])
