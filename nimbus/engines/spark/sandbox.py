"""The sandbox of a Spark node's processes: its daemon, the executors and Python workers that a worker
starts for the user's job, a step's driver, a bootstrap script. Each sees the host's programs and this
Python read-only (see ``nimbus.engines.bubblewrap``), Java's configuration and the user and host
name files it reads, and writable only the paths it is given, at their own paths (Spark's settings
name them): the cluster's folder and, for a cluster without a role, the object files that jobs read
and write in place. The rest of the data dir (the database, other services' files, the object files
of a cluster whose steps act as a role) does not exist inside it. Its network is the
host's, since masters, workers, drivers and executors talk over loopback ports.

Without bwrap the processes run unconfined, and a warning says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from nimbus.engines.bubblewrap import bwrap_available, host_system_arguments

# Java's configuration (reached through /usr/lib/jvm's links), the passwd entry Hadoop logs in as,
# and the files that resolve host names (a master given by name)
_HOST_FILES = (
    "/etc/alternatives",
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/resolv.conf",
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sandbox:
    writable: tuple[Path, ...]


def bwrap_prefix(sandbox: Sandbox, cwd: Path, info_fd: int) -> list[str] | None:
    """The ``bwrap`` arguments that run a command inside ``sandbox`` from ``cwd`` (which must lie in a
    writable path), bwrap writing the PID of the sandbox's init to ``info_fd``; None where bwrap is
    not installed."""
    if not bwrap_available():
        log.warning("bwrap is not installed: Spark runs user code WITHOUT file isolation")
        return None
    # --die-with-parent: the processes inside end with the bwrap that Nimbus started
    argv = ["bwrap", "--unshare-all", "--share-net", "--new-session", "--die-with-parent"]
    argv += ["--info-fd", str(info_fd), *host_system_arguments()]
    host_files = [*_HOST_FILES, *(str(path) for path in sorted(Path("/etc").glob("java-*")))]
    for path in host_files:
        if Path(path).exists():
            argv += ["--ro-bind", path, path]
    for path in sandbox.writable:
        argv += ["--bind", str(path), str(path)]
    return [*argv, "--chdir", str(cwd)]
