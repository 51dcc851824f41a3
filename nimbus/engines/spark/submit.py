"""A spark-submit in client mode against a given master: the user's arguments, with the master and
deploy mode that this cluster runs and the settings that give jobs Nimbus S3."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from nimbus.engines.spark.cluster import LOOPBACK, spark_environment
from nimbus.engines.spark.processes import start_process
from nimbus.engines.spark.runtime import spark_home
from nimbus.engines.spark.sandbox import Sandbox

# options whose value Nimbus sets itself: the cluster's master, and client mode (a standalone master
# refuses cluster mode for Python applications)
_OVERRIDDEN = ("--master", "--deploy-mode")
# spark-submit options that take no value
_FLAGS = ("--verbose", "-v", "--supervise", "--help", "-h", "--version")
FAILURE_TAIL = 900
# the line of a failed driver's stderr that says why: Spark's own, else the last exception's
_ABORTED = re.compile(r"Job aborted due to stage failure: .*")
_EXCEPTION = re.compile(r"^(?:[\w.$]+(?:Error|Exception)\b.*|Exception in thread .*)")


def submit_command(master_url: str, arguments: Sequence[str], conf: Mapping[str, str]) -> list[str]:
    """``spark-submit`` with ``conf`` first (so the user's own ``--conf`` wins) and the user's
    arguments without their ``--master`` / ``--deploy-mode``."""
    command = [str(spark_home() / "bin" / "spark-submit"), "--master", master_url, "--deploy-mode", "client"]
    for name, value in conf.items():
        command += ["--conf", f"{name}={value}"]
    return command + _without_overridden(list(arguments))


def _without_overridden(arguments: list[str]) -> list[str]:
    kept: list[str] = []
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if not argument.startswith("-"):
            return kept + arguments[index:]  # the application resource and its own arguments
        takes_value = "=" not in argument and argument not in _FLAGS
        if argument.split("=", 1)[0] not in _OVERRIDDEN:
            kept += arguments[index : index + 2] if takes_value else [argument]
        index += 2 if takes_value else 1
    return kept


def start_submit(
    command: Sequence[str],
    folder: Path,
    loopback: bool = True,
    sandbox: Sandbox | None = None,
    extra_environment: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Starts the driver (in ``sandbox``, if given), with ``extra_environment`` (a role's credentials)
    beside Spark's; its stdout and stderr go to ``folder/stdout`` and ``folder/stderr``. A driver for a
    cluster on other machines (``loopback`` False) listens where their executors can reach it."""
    folder.mkdir(parents=True, exist_ok=True)
    environment = {**spark_environment(folder), **(extra_environment or {})}
    if loopback:
        environment["SPARK_LOCAL_HOSTNAME"] = LOOPBACK
    else:
        del environment["SPARK_LOCAL_IP"]
    return start_process(command, environment, folder, folder / "stdout", folder / "stderr", sandbox)


def driver_failure(stderr: Path, code: int) -> str:
    """Why a driver that exited with ``code`` failed, from its ``stderr`` file: Spark's reason for
    aborting the job, else the last exception, else its last lines."""
    text = stderr.read_text(errors="replace") if stderr.exists() else ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for pattern in (_ABORTED, _EXCEPTION):
        found = [match.group(0) for line in lines if (match := pattern.search(line))]
        if found:
            return found[-1][:FAILURE_TAIL]
    return f"spark-submit exited with code {code}: {' | '.join(lines[-3:])}"[:FAILURE_TAIL]
