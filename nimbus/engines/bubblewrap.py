"""What every sandbox of user code sees of the host, with bubblewrap (``bwrap``): the host's programs
read-only (``/usr`` and the ``/lib*``, ``/bin``, ``/sbin`` links to it), the Python that runs Nimbus
read-only, fresh ``/proc`` and ``/dev``, and a private ``/tmp``. Each engine adds the paths its
processes need (SageMaker's ``/opt/ml``, a Spark node's folders)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def host_system_arguments() -> list[str]:
    """``bwrap`` arguments for the read-only view of the host that every sandbox starts from."""
    argv = ["--ro-bind", "/usr", "/usr", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for name in ("lib", "lib64", "bin", "sbin"):
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), str(host)]
    python_prefixes = {sys.prefix, sys.base_prefix, str(Path(sys.executable).resolve().parent.parent)}
    for prefix in sorted(python_prefixes):
        if not prefix.startswith("/usr"):
            argv += ["--ro-bind", prefix, prefix]
    return argv
