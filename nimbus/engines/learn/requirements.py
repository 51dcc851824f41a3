"""Script mode's ``requirements.txt``: installed into a virtual environment of its own (which also
sees the packages of the Python Nimbus runs on, as a framework container's Python would), from the
package index that is configured, by pip in a sandbox with network. Environments are cached by the
hash of the requirements, the Python and the index, so the next job with the same file starts at
once. An environment appears under its hash only when pip succeeded (built aside, then renamed)."""

from __future__ import annotations

import hashlib
import os
import shutil
import site
import subprocess
import sys
import uuid
import venv
from collections.abc import Callable
from pathlib import Path

from nimbus.engines.learn.sandbox import Bind, Limits, start_sandboxed, stop_sandboxed

INSTALL_TIMEOUT_S = 1800
NETWORK_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/ssl/certs", "/etc/pip.conf")
PIP_CONFIG_DIR = "/etc/xdg/pip"


class RequirementsFailed(Exception):
    """pip could not install the requirements; the message says why (pip's last lines)."""


def environment_python(
    requirements: Path, cache: Path, index_url: str | None, limits: Limits, log: Callable[[str], None]
) -> Path:
    """The Python of the environment that holds ``requirements``, built (and cached) if needed."""
    text = requirements.read_bytes()
    key = hashlib.sha256(b"\0".join([text, sys.version.encode(), (index_url or "").encode()])).hexdigest()[
        :32
    ]
    target = cache / key
    if (target / "bin" / "python").exists():
        log(f"requirements.txt: the environment {key} is already installed (cached)")
        return target / "bin" / "python"
    building = cache / f".building-{uuid.uuid4().hex}"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(building)
    _see_nimbus_packages(building)
    try:
        _pip_install(building, requirements, index_url, limits, log)
        building.rename(target)  # a rename: a concurrent job's identical environment may have won
    except OSError:
        if not (target / "bin" / "python").exists():
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    log(f"requirements.txt: installed into the environment {key}")
    return target / "bin" / "python"


def _see_nimbus_packages(environment: Path) -> None:
    """Nimbus's own packages (its scikit-learn, XGBoost...) come after the environment's own."""
    (site_packages,) = environment.glob("lib/python*/site-packages")
    (site_packages / "nimbus-packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")


def _pip_install(
    environment: Path, requirements: Path, index_url: str | None, limits: Limits, log: Callable[[str], None]
) -> None:
    """The environment's pip, from inside a sandbox with network (a package's build runs user code
    too); a package Nimbus has in another version is installed into the environment, never removed."""
    command = [str(environment / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input"]
    command += ["install", "--quiet", "--timeout", "20", "--retries", "1"]
    command += ["--index-url", index_url] if index_url else []
    command += ["--requirement", str(requirements)]
    binds = [Bind(environment, str(environment), writable=True), Bind(requirements, str(requirements))]
    binds += [Bind(Path(path), path) for path in (*NETWORK_FILES, PIP_CONFIG_DIR) if Path(path).exists()]
    process = start_sandboxed(
        command, environment, binds, limits, network=True, environment={"PIP_NO_CACHE_DIR": "1"}
    )
    try:
        output, _ = process.communicate(timeout=INSTALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stop_sandboxed(process)
        raise RequirementsFailed(f"pip did not finish within {INSTALL_TIMEOUT_S} seconds") from None
    lines = output.decode(errors="replace").strip().splitlines()
    for line in lines:
        log(line)
    if process.returncode != 0:
        where = index_url or os.environ.get("PIP_INDEX_URL") or "pip's configured index"
        said = " | ".join(lines[-3:]) or f"exit code {process.returncode}"
        raise RequirementsFailed(
            f"pip could not install requirements.txt from {where} (set NIMBUS_PIP_INDEX_URL to a "
            f"package index this machine reaches): {said}"
        )
