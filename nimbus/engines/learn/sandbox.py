"""Runs a training command in its own process tree with SageMaker's ``/opt/ml`` layout.

With bubblewrap (``bwrap``) the command gets fresh user, mount, PID, IPC, UTS and network namespaces
(no network at all), and sees only: the host's ``/usr`` (and ``/lib*`` links), the Python it runs
and Nimbus's own package read-only, a private ``/tmp``, the job's channels read-only at
``/opt/ml/input/data/<channel>`` (the S3 object files themselves, bound, not copied) and the job's
``model/`` and ``output/`` folders writable. Nothing else of the data dir (other buckets, the
database, credentials) exists inside it. ``prlimit`` caps its address space and ``taskset`` its CPUs.
Without bwrap the command runs as a plain subprocess (same limits, no file or network isolation)
with ``NIMBUS_ML_ROOT`` pointing at the job folder, and a warning says so.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nimbus

ML_ROOT = "/opt/ml"
PACKAGE_ROOT = "/opt/nimbus"
# the sandbox may use this share of the machine's memory
MEMORY_SHARE = 0.75

log = logging.getLogger(__name__)


@dataclass
class JobFolder:
    """The job's ``/opt/ml`` on the host: ``input/config``, ``model``, ``output``, and the channels'
    files (host path -> path under ``input/data/<channel>/``)."""

    root: Path
    channels: dict[str, dict[Path, str]] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    def write_config(self, name: str, value: Any) -> None:
        (self.root / "input" / "config" / name).write_text(json.dumps(value))


def prepare_job_folder(
    root: Path, config: Mapping[str, Any], channels: Mapping[str, dict[Path, str]]
) -> JobFolder:
    """Creates a clean job folder and writes ``input/config/<name>`` for each entry of ``config``."""
    shutil.rmtree(root, ignore_errors=True)
    for part in ("input/config", "input/data", "model", "output/data"):
        (root / part).mkdir(parents=True)
    folder = JobFolder(root, dict(channels))
    for name, value in config.items():
        folder.write_config(name, value)
    for channel in channels:
        (root / "input" / "data" / channel).mkdir()
    return folder


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def start_sandboxed(command: Sequence[str], folder: JobFolder, cpus: int) -> subprocess.Popen[bytes]:
    """Starts ``command`` (``python`` means this Python) in the sandbox; stdout and stderr are one pipe,
    and the process leads its own session so the whole tree can be killed."""
    python_command = [sys.executable if part == "python" else part for part in command]
    limits = _limits(cpus)
    if bwrap_available():
        argv = [*limits, *_bwrap_arguments(folder), *python_command]
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": PACKAGE_ROOT, "HOME": "/tmp"}
    else:
        log.warning(
            "bwrap is not installed: training runs as a plain subprocess, WITHOUT file or network isolation"
        )
        argv = [*limits, *python_command]
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(Path(nimbus.__file__).parent.parent),
            "NIMBUS_ML_ROOT": str(folder.root),
        }
        _copy_channels(folder)
    env.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS=str(cpus), LANG="C.UTF-8")
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=folder.root,
        start_new_session=True,
    )


def _limits(cpus: int) -> list[str]:
    memory = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_SHARE)
    cores = ",".join(str(core) for core in sorted(os.sched_getaffinity(0))[:cpus])
    argv = ["prlimit", f"--as={memory}", "--core=0"] if shutil.which("prlimit") else []
    return [*argv, "taskset", "-c", cores] if shutil.which("taskset") else argv


def _bwrap_arguments(folder: JobFolder) -> list[str]:
    python_prefixes = {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)}
    argv = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
    ]
    for name in ("lib", "lib64", "bin", "sbin"):
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), str(host)]
    for prefix in sorted(python_prefixes):
        if not prefix.startswith("/usr"):
            argv += ["--ro-bind", prefix, prefix]
    argv += ["--ro-bind", str(Path(nimbus.__file__).parent), f"{PACKAGE_ROOT}/nimbus"]
    argv += ["--ro-bind", str(folder.root / "input" / "config"), f"{ML_ROOT}/input/config"]
    argv += ["--dir", f"{ML_ROOT}/input/data"]
    for channel, files in folder.channels.items():
        argv += ["--dir", f"{ML_ROOT}/input/data/{channel}"]
        for host_path, relative in files.items():
            argv += ["--ro-bind", str(host_path), f"{ML_ROOT}/input/data/{channel}/{relative}"]
    argv += [
        "--bind",
        str(folder.model_dir),
        f"{ML_ROOT}/model",
        "--bind",
        str(folder.output_dir),
        f"{ML_ROOT}/output",
    ]
    return [*argv, "--chdir", ML_ROOT]


def _copy_channels(folder: JobFolder) -> None:
    """Without bind mounts the plain subprocess reads copies, so it cannot write to the objects."""
    for channel, files in folder.channels.items():
        for host_path, relative in files.items():
            target = folder.root / "input" / "data" / channel / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(host_path, target)
