"""Runs a command (a training job, an endpoint's model server) in its own process tree, with
SageMaker's ``/opt/ml`` layout made of bind mounts.

With bubblewrap (``bwrap``) the command gets fresh user, mount, PID, IPC and UTS namespaces and
sees only: the host's ``/usr`` (and ``/lib*`` links), the Python it runs and Nimbus's own package
read-only, a private ``/tmp``, and under ``/opt/ml`` just the paths it is given (a job's channels
read-only, bound from the S3 object files themselves; its ``model/`` and ``output/`` writable).
Nothing else of the data dir (other buckets, the database, credentials) exists inside it. A training
job also gets its own network namespace (no network at all); a model server shares the host's, since
it listens on a loopback port. ``prlimit`` caps its address space and ``taskset`` its CPUs; a
process given GPUs sees their device files and ``NIMBUS_DEVICE=cuda`` (devices.py).

Without bwrap the command runs as a plain subprocess (same limits, no file or network isolation)
with ``NIMBUS_ML_ROOT`` pointing at the host folder that stands for ``/opt/ml``, and a warning says so.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import nimbus
from nimbus.engines.bubblewrap import bwrap_available, host_system_arguments
from nimbus.engines.devices import CPU, CUDA, DEVICE_VARIABLE, gpu_device_files

ML_ROOT = "/opt/ml"
PACKAGE_ROOT = "/opt/nimbus"
STOP_TIMEOUT_S = 5.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bind:
    """A host path seen at ``/opt/ml/<target>`` inside the sandbox, or at ``target`` itself when it is
    absolute (a notebook's home). Binds apply in order: a file bound into a directory bound before it
    is read-only inside a writable folder."""

    host: Path
    target: str
    writable: bool = False

    @property
    def path(self) -> str:
        """Where the sandbox sees it."""
        return self.target if self.target.startswith("/") else f"{ML_ROOT}/{self.target}"


@dataclass(frozen=True)
class Limits:
    cpus: int
    memory_bytes: int
    gpus: int = 0  # this machine's first ``gpus`` GPUs; none: the process runs on the CPU


@dataclass
class JobFolder:
    """A training job's ``/opt/ml`` on the host: ``input/config``, ``code``, ``model``, ``output``,
    and the channels' files (host path -> path under ``input/data/<channel>/``), or for a channel in
    ``pipes``, its stream, ``input/data/<channel>_0``."""

    root: Path
    channels: dict[str, dict[Path, str]] = field(default_factory=dict)
    pipes: list[str] = field(default_factory=list)

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def code_dir(self) -> Path:
        return self.root / "code"

    def pipe_file(self, channel: str) -> Path:
        """The file holding a Pipe-mode channel's stream (its first epoch's pipe, as SageMaker names it)."""
        return self.root / "input" / "data" / f"{channel}_0"

    def write_config(self, name: str, value: Any) -> None:
        (self.root / "input" / "config" / name).write_text(json.dumps(value))

    def binds(self) -> list[Bind]:
        binds = [Bind(self.root / "input" / "config", "input/config")]
        for channel, files in self.channels.items():
            binds += [Bind(host, f"input/data/{channel}/{relative}") for host, relative in files.items()]
        binds += [Bind(self.pipe_file(channel), f"input/data/{channel}_0") for channel in self.pipes]
        binds += [
            Bind(self.model_dir, "model", writable=True),
            Bind(self.output_dir, "output", writable=True),
        ]
        return [*binds, Bind(self.code_dir, "code")]


def prepare_job_folder(
    root: Path, config: Mapping[str, Any], channels: Mapping[str, dict[Path, str]]
) -> JobFolder:
    """Creates a clean job folder and writes ``input/config/<name>`` for each entry of ``config``."""
    shutil.rmtree(root, ignore_errors=True)
    for part in ("input/config", "input/data", "model", "output/data", "code"):
        (root / part).mkdir(parents=True)
    folder = JobFolder(root, dict(channels))
    for name, value in config.items():
        folder.write_config(name, value)
    for channel in channels:
        (root / "input" / "data" / channel).mkdir()
    return folder


def start_sandboxed(
    command: Sequence[str],
    ml_root: Path,
    binds: Sequence[Bind],
    limits: Limits,
    *,
    environment: Mapping[str, str] | None = None,
    network: bool = False,
    die_with_thread: bool = False,
    output: IO[bytes] | int = subprocess.PIPE,
    home: str = "/tmp",
    hostname: str | None = None,
) -> subprocess.Popen[bytes]:
    """Starts ``command`` (``python`` means this Python) with ``binds`` under ``/opt/ml``; ``ml_root``
    is the host folder that holds them. stdout and stderr both go to ``output``, and the process
    leads its own session so the whole tree can be killed. ``die_with_thread`` kills it when the
    calling thread ends (Linux's parent-death signal follows the thread, not the process). ``python``
    and ``python3`` on the PATH are this Python too (a processing job's entry point names them).
    ``hostname``: the sandbox's own (a training instance's ``algo-k``); bwrap only."""
    python_command = [sys.executable if part == "python" else part for part in command]
    env = dict(environment or {})
    if bwrap_available():
        sandbox = [*_bwrap_arguments(binds, network, die_with_thread, hostname), *_gpu_arguments(limits)]
        argv = [*_limits(limits), *sandbox, *python_command]
        env.update(PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin", PYTHONPATH=PACKAGE_ROOT, HOME=home)
    else:
        log.warning("bwrap is not installed: user code runs as a plain subprocess, WITHOUT file isolation")
        argv = [*_limits(limits), *python_command]
        _copy_foreign_binds(ml_root, binds)
        env.update(
            PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            PYTHONPATH=str(Path(nimbus.__file__).parent.parent),
            NIMBUS_ML_ROOT=str(ml_root),
            HOME=str(ml_root),
        )
    # OpenMP threads sleep when idle instead of spinning: on a shared machine a spinning model
    # server takes the CPU that the gateway and the other sandboxes need
    env.update(
        PYTHONUNBUFFERED="1", OMP_NUM_THREADS=str(limits.cpus), OMP_WAIT_POLICY="PASSIVE", LANG="C.UTF-8"
    )
    env.update(
        {
            DEVICE_VARIABLE: CUDA if limits.gpus else CPU,
            "CUDA_VISIBLE_DEVICES": ",".join(map(str, range(limits.gpus))),
        }
    )
    return subprocess.Popen(
        argv,
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ml_root,
        start_new_session=True,
    )


# Long-lived sandboxes (model servers, notebook servers) are started from this one thread: the sandbox
# ties a process's life to the thread that started it, so they die with the Nimbus process, even a
# SIGKILLed one, and not with the request thread that asked for them.
_launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-launcher")


def start_long_lived(
    command: Sequence[str], ml_root: Path, binds: Sequence[Bind], limits: Limits, **options: Any
) -> subprocess.Popen[bytes]:
    """``start_sandboxed`` (``options`` are its keyword arguments) from the long-lived launcher thread."""
    start = functools.partial(
        start_sandboxed, command, ml_root, binds, limits, die_with_thread=True, **options
    )
    return _launcher.submit(start).result()


def stop_sandboxed(process: subprocess.Popen[bytes]) -> None:
    """Kills the whole sandbox and waits until nothing of it runs. bwrap's process inside the sandbox
    (the child of the one we started, in a session of its own) is the PID namespace's init: killing it
    ends every process in the sandbox, and the outer bwrap exits once it has reaped it. Without bwrap
    (or if the outer one lingers) the started process's group is killed."""
    if process.poll() is not None:
        return
    children: list[str] = []
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), signal.SIGKILL)
    if children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT_S)
            return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _limits(limits: Limits) -> list[str]:
    cores = ",".join(str(core) for core in sorted(os.sched_getaffinity(0))[: limits.cpus])
    argv = ["prlimit", f"--as={limits.memory_bytes}", "--core=0"] if shutil.which("prlimit") else []
    return [*argv, "taskset", "-c", cores] if shutil.which("taskset") else argv


def _gpu_arguments(limits: Limits) -> list[str]:
    """The GPU device files, for a process given GPUs (bwrap's fresh ``/dev`` has none)."""
    argv: list[str] = []
    for device in gpu_device_files() if limits.gpus else []:
        argv += ["--dev-bind", device, device]
    return argv


def _bwrap_arguments(
    binds: Sequence[Bind], network: bool, die_with_thread: bool, hostname: str | None
) -> list[str]:
    argv = ["bwrap", "--unshare-all", "--new-session", *(["--hostname", hostname] if hostname else [])]
    argv += (["--share-net"] if network else []) + (["--die-with-parent"] if die_with_thread else [])
    argv += host_system_arguments()
    argv += ["--ro-bind", str(Path(nimbus.__file__).parent), f"{PACKAGE_ROOT}/nimbus", "--dir", ML_ROOT]
    for bind in binds:
        argv += ["--bind" if bind.writable else "--ro-bind", str(bind.host), bind.path]
    return [*argv, "--chdir", ML_ROOT]


def _copy_foreign_binds(ml_root: Path, binds: Sequence[Bind]) -> None:
    """Without bind mounts the plain subprocess reads copies of what lies outside its folder (a job's
    channel objects), so it cannot write to them. Absolute targets have no place there: skipped."""
    for bind in binds:
        if bind.target.startswith("/"):
            continue
        target = ml_root / bind.target
        if bind.host.resolve() == target.resolve():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if bind.host.is_dir():
            shutil.copytree(bind.host, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(bind.host, target)
