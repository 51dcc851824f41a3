"""One container: its image pulled, then run attached (its output is the process's output) with
SageMaker's ``/opt/ml`` made of bind mounts, the instance's cores and memory as cgroup limits, and
the network it may have: ``none`` (network isolation: only a loopback interface), ``host`` (a job
that calls Nimbus's APIs on loopback) or ``bridge`` (a model server with a network of its own).

Values of environment variables never appear on a command line: the runtime is told only their
names and reads the values from its own environment."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from nimbus.engines.containers.runtime import ContainerRuntime, process_environment
from nimbus.engines.learn.sandbox import Bind, Limits

PULL_TIMEOUT_S = 1800
STOP_TIMEOUT_S = 30
INSPECT_TIMEOUT_S = 30
NETWORKS = ("none", "host", "bridge")
LABEL = "nimbus.containers"  # its value: the runtime configuration folder of the Nimbus that started it


class ContainerFailed(Exception):
    """The runtime could not pull or start the image; the message says why."""


@dataclass(frozen=True)
class ContainerImage:
    reference: str  # what the runtime pulls: host[:port]/repository:tag or @sha256:...
    credentials: str | None = None  # "user:password" for its registry; None: the runtime's own login
    tls_verify: bool = True  # False for a registry served over plain HTTP (Nimbus's own on loopback)


@dataclass(frozen=True)
class ContainerRun:
    image: ContainerImage
    arguments: Sequence[str]  # after the image: "train", "serve", a processing job's arguments
    binds: Sequence[Bind]
    limits: Limits
    network: str
    environment: Mapping[str, str] = field(default_factory=dict)
    entrypoint: Sequence[str] | None = None  # replaces the image's ENTRYPOINT
    hostname: str | None = None
    staging: Path | None = None  # where a bind whose path the runtime cannot take is copied


class ContainerProcess(subprocess.Popen[bytes]):
    """The runtime's attached ``run``: its output is the container's; ``name`` stops it."""

    name: str
    runtime: ContainerRuntime


def pull(runtime: ContainerRuntime, image: ContainerImage) -> None:
    """Pulls the image (a no-op when the runtime has it); ContainerFailed with the runtime's words."""
    if runtime.is_podman:
        arguments = ["pull", "--quiet", f"--tls-verify={'true' if image.tls_verify else 'false'}"]
        arguments += ["--creds", image.credentials] if image.credentials else []
        _run(runtime, [*arguments, image.reference], "pull")
        return
    if image.credentials:  # the Docker CLI takes credentials by login only (a loopback registry may be HTTP)
        user, _, password = image.credentials.partition(":")
        registry = image.reference.split("/", 1)[0]
        _run(runtime, ["login", "--username", user, "--password-stdin", registry], "log in to", password)
    _run(runtime, ["pull", "--quiet", image.reference], "pull")


def _run(runtime: ContainerRuntime, arguments: list[str], what: str, given: str | None = None) -> None:
    try:
        done = subprocess.run(
            runtime.command(*arguments),
            input=given,
            capture_output=True,
            text=True,
            timeout=PULL_TIMEOUT_S,
            env=process_environment(runtime),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ContainerFailed(f"could not {what} {arguments[-1]} within {PULL_TIMEOUT_S} seconds") from None
    if done.returncode != 0:
        words = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ContainerFailed(f"could not {what} {arguments[-1]}: {' '.join(words)}")


def start_container(
    runtime: ContainerRuntime, run: ContainerRun, output: IO[bytes] | int = subprocess.PIPE
) -> ContainerProcess:
    """Starts the container attached; stdout and stderr both go to ``output``."""
    if run.network not in NETWORKS:
        raise ValueError(run.network)
    name = f"nimbus-{uuid.uuid4().hex[:16]}"
    argv = ["run", "--rm", "--name", name, "--label", f"{LABEL}={runtime.config_dir}"]
    argv += ["--pull", "never", "--network", run.network]
    argv += ["--cpus", str(run.limits.cpus), "--memory", str(run.limits.memory_bytes)]
    argv += ["--memory-swap", str(run.limits.memory_bytes)]  # no swap beyond the instance's memory
    argv += ["--log-driver", "none"] if runtime.is_podman else []  # its output comes back attached
    argv += ["--hostname", run.hostname] if run.hostname else []
    for variable in run.environment:
        argv += ["--env", variable]
    for bind in run.binds:
        argv += ["--mount", _mount(bind, run.staging)]
    if run.entrypoint is not None:
        argv += ["--entrypoint", run.entrypoint[0]] if run.entrypoint else ["--entrypoint", ""]
    arguments = [*(run.entrypoint or ())[1:], *run.arguments]
    process = ContainerProcess(
        runtime.command(*argv, run.image.reference, *arguments),
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=process_environment(runtime, run.environment),
        start_new_session=True,
    )
    process.name, process.runtime = name, runtime
    return process


def _mount(bind: Bind, staging: Path | None) -> str:
    """A ``--mount`` value; a host path holding a comma (which the option cannot carry) is copied
    into ``staging`` first."""
    source = bind.host
    if "," in str(source) or "," in bind.path:
        if staging is None or "," in bind.path:
            raise ContainerFailed(
                f"cannot bind {source} at {bind.path} into a container (a comma in the path)"
            )
        staged = staging / uuid.uuid4().hex
        staged.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if source.is_dir() else shutil.copyfile)(source, staged)
        source = staged
    value = f"type=bind,source={source},target={bind.path}"
    return value if bind.writable else f"{value},readonly"


def stop_container(process: ContainerProcess) -> None:
    """Kills the container (and so its attached ``run``) and waits until both are gone."""
    if process.poll() is None:
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            subprocess.run(
                process.runtime.command("rm", "--force", *_at_once(process.runtime), process.name),
                capture_output=True,
                timeout=STOP_TIMEOUT_S,
                env=process_environment(process.runtime),
                check=False,
            )
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _at_once(runtime: ContainerRuntime) -> list[str]:
    return ["--time", "0"] if runtime.is_podman else []  # podman's rm would wait 10 s for SIGTERM


def container_pid(process: ContainerProcess) -> int | None:
    """The PID of the container's first process on this host, once it runs; None before."""
    try:
        answer = subprocess.run(
            process.runtime.command("inspect", "--format", "{{.State.Pid}}", process.name),
            capture_output=True,
            text=True,
            timeout=INSPECT_TIMEOUT_S,
            env=process_environment(process.runtime),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    text = answer.stdout.strip()
    return int(text) if answer.returncode == 0 and text.isdigit() and int(text) > 0 else None


def remove_leftovers(runtime: ContainerRuntime) -> None:
    """Removes the containers an earlier process of this Nimbus left running (it was killed)."""
    try:
        listed = subprocess.run(
            runtime.command("ps", "--all", "--quiet", "--filter", f"label={LABEL}={runtime.config_dir}"),
            capture_output=True,
            text=True,
            timeout=INSPECT_TIMEOUT_S,
            env=process_environment(runtime),
            check=False,
        )
        if listed.returncode == 0 and listed.stdout.split():
            subprocess.run(
                runtime.command("rm", "--force", *_at_once(runtime), *listed.stdout.split()),
                capture_output=True,
                timeout=STOP_TIMEOUT_S,
                env=process_environment(runtime),
                check=False,
            )
    except subprocess.TimeoutExpired:
        return
