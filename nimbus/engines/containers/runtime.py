"""The container runtime SageMaker's images run on: podman (preferred) or Docker's CLI, found on the
PATH or named by ``NIMBUS_CONTAINER_RUNTIME``. Podman runs with a configuration of Nimbus's own
(``CONTAINERS_CONF``): no default ulimits (a container may not raise limits above the host's) and the
``runc`` OCI runtime where it is installed (crun does not start containers on every host's cgroups).

``runtime_problem`` says why containers cannot run here, and how to make them run."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "install a container runtime (Debian/Ubuntu: `apt-get install podman runc`) and restart Nimbus, "
    "or name one with NIMBUS_CONTAINER_RUNTIME"
)
CHECK_TIMEOUT_S = 30
_CHECK_LOCK = threading.Lock()  # who asks while the check runs waits for its answer: it runs once


@dataclass(frozen=True)
class ContainerRuntime:
    binary: str  # the podman or docker program
    config_dir: Path  # where Nimbus keeps the runtime's configuration and credentials

    @property
    def is_podman(self) -> bool:
        return Path(self.binary).name.startswith("podman")

    def command(self, *arguments: str) -> list[str]:
        if self.is_podman:
            return [self.binary, *arguments]
        return [self.binary, "--config", str(self.config_dir / "docker"), *arguments]

    def environment(self) -> dict[str, str]:
        """Variables the runtime's processes need besides the caller's."""
        if not self.is_podman:
            return {}
        return {"CONTAINERS_CONF": str(_podman_configuration(self.config_dir))}


def find_runtime(config_dir: Path, configured: str | None = None) -> ContainerRuntime | None:
    """The configured runtime, else podman, else docker, when its program exists."""
    for name in [configured] if configured else ["podman", "docker"]:
        binary = shutil.which(name)
        if binary is not None:
            return ContainerRuntime(binary, config_dir)
    return None


def runtime_problem(runtime: ContainerRuntime | None) -> str | None:
    """None when containers can run; else what is wrong and how to fix it."""
    if runtime is None:
        return f"no container runtime (podman or docker) is installed: {INSTALL_HINT}"
    with _CHECK_LOCK:
        return _check(runtime)


@functools.cache
def _check(runtime: ContainerRuntime) -> str | None:
    """Asks the runtime for its state once per process (a Docker CLI without its daemon fails here)."""
    try:
        answer = subprocess.run(
            runtime.command("info"),
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            env=process_environment(runtime),
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"{runtime.binary} does not answer ({error}): {INSTALL_HINT}"
    if answer.returncode != 0:
        last = (answer.stderr or answer.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"{runtime.binary} info failed ({last[0]}): {INSTALL_HINT}"
    return None


def process_environment(
    runtime: ContainerRuntime, variables: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a runtime command: this process's, the runtime's, then ``variables``."""
    return {**os.environ, **runtime.environment(), **(variables or {})}


def _podman_configuration(config_dir: Path) -> Path:
    path = config_dir / "containers.conf"
    engine = '[engine]\nruntime = "runc"\n' if shutil.which("runc") else ""
    text = f"[containers]\ndefault_ulimits = []\n{engine}"
    if not path.is_file() or path.read_text() != text:
        config_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path
