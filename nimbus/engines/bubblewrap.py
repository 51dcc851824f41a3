"""What every sandbox of user code sees of the host, with bubblewrap (``bwrap``): the host's programs
read-only (``/usr`` and the ``/lib*``, ``/bin``, ``/sbin`` links to it), the Python that runs Nimbus
read-only, fresh ``/proc`` and ``/dev``, a private ``/tmp``, and, when Nimbus serves HTTPS with its
own CA, that CA in the sandbox's trust (see ``trust_certificate_authority``) so the jobs' SDK calls
verify Nimbus. Each engine adds the paths its processes need (SageMaker's ``/opt/ml``, a Spark
node's folders)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from botocore.httpsession import where as botocore_trust_store

_trust_binds: list[tuple[Path, Path]] = []  # (host file, path in the sandbox) of an HTTPS Nimbus's CA


def trust_certificate_authority(ca_bundle: Path | None) -> None:
    """Every sandbox started from now on trusts the CA of a Nimbus that serves HTTPS: its certificate
    is readable at its own path (the jobs' ``AWS_CA_BUNDLE``, which the SDK's clients honour), and
    the trust store botocore reads when nothing names a bundle (its container-credentials client
    never reads AWS_CA_BUNDLE) is, inside the sandbox, that store plus this CA. None: no CA."""
    _trust_binds.clear()
    if ca_bundle is None:
        return
    store = Path(botocore_trust_store())
    extended = ca_bundle.parent / "sandbox-trust-store.pem"
    extended.write_bytes(store.read_bytes().rstrip(b"\n") + b"\n" + ca_bundle.read_bytes())
    _trust_binds.extend([(ca_bundle, ca_bundle), (extended, store)])


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
    for host, inside in _trust_binds:  # after the Python prefixes: the store is a file inside one
        argv += ["--ro-bind", str(host), str(inside)]
    return argv
