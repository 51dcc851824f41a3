"""A training job's instances, named as SageMaker names them (``algo-1`` .. ``algo-N``), with names
that resolve between them.

On this one machine the instances share the host's network namespace (their code reaches Nimbus's
APIs on its loopback address), so on AWS's fixed ports (gloo's, torchrun's rendezvous, a parameter
server) two instances would collide. Each instance therefore gets an address of its own on the
loopback network, which Linux routes whole (127.0.0.0/8): ``algo-k`` is ``127.A.B.(k+1)``, where the
block ``127.A.B.0/24`` is held by this job alone while it runs. Its sandbox sees an ``/etc/hosts``
that names every instance and an ``/etc/nsswitch.conf`` that reads it first, and its own hostname (a
UTS namespace of its own) is its ``algo-k``; so code that binds "its hostname's address" (gloo does)
binds an address no other instance or job uses. A rendezvous that listens on every address (torch's
TCPStore) gets a port free on the host instead of AWS's fixed one (``rendezvous_port``).

On a Spark cluster each instance is a barrier task (barrier.py), and ``algo-k`` is the address of
the executor that runs task k (several may share one): the same ``/etc/hosts`` names them, and
algo-1's task picks the rendezvous port free on its machine. Either way ``instance_program`` gives an
instance's program this side of SageMaker's contract, and runs.run_program runs it."""

from __future__ import annotations

import dataclasses
import random
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nimbus.engines.learn.runs import Program
from nimbus.engines.learn.sandbox import Bind

RENDEZVOUS_PORT_VARIABLE = "NIMBUS_RENDEZVOUS_PORT"  # where script mode tells torchrun to meet
_blocks_held: set[tuple[int, int]] = set()
_blocks_lock = threading.Lock()


def host_names(count: int) -> list[str]:
    return [f"algo-{index}" for index in range(1, count + 1)]


@dataclass(frozen=True)
class Cluster:
    hosts: list[str]
    block: tuple[int, int]  # the job's 127.A.B.0/24
    rendezvous_port: int

    def addresses(self) -> dict[str, str]:
        return {
            host: f"127.{self.block[0]}.{self.block[1]}.{index + 2}" for index, host in enumerate(self.hosts)
        }


def name_binds(addresses: Mapping[str, str], folder: Path) -> list[Bind]:
    """Writes an ``/etc/hosts`` naming each instance at its address, and an ``/etc/nsswitch.conf``
    that reads it first, into ``folder``; the binds that show them to a sandbox."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["127.0.0.1 localhost", *(f"{address} {host}" for host, address in addresses.items())]
    (folder / "hosts").write_text("\n".join(lines) + "\n")
    (folder / "nsswitch.conf").write_text("hosts: files dns\n")
    return [
        Bind(folder / "hosts", "/etc/hosts"),
        Bind(folder / "nsswitch.conf", "/etc/nsswitch.conf"),
    ]


def instance_program(program: Program, addresses: Mapping[str, str], rendezvous_port: int) -> Program:
    """``program`` (the instance ``program.hostname``'s) seeing the instances' names (a container
    resolves them through its runtime instead) and told where they meet."""
    names = (
        []
        if program.container is not None
        else name_binds(addresses, program.root.parent / f"names-{program.hostname}")
    )
    return dataclasses.replace(
        program,
        binds=[*program.binds, *names],
        environment={**program.environment, RENDEZVOUS_PORT_VARIABLE: str(rendezvous_port)},
    )


@contextmanager
def reserved_cluster(count: int) -> Iterator[Cluster]:
    """A cluster of ``count`` instances whose address block no other job of this process holds
    until the block ends."""
    with _blocks_lock:
        free = [(a, b) for a in range(1, 255) for b in range(0, 255) if (a, b) not in _blocks_held]
        block = random.choice(free)  # drawn, so that two Nimbus processes on one machine rarely meet
        _blocks_held.add(block)
    try:
        yield Cluster(host_names(count), block, free_port())
    finally:
        with _blocks_lock:
            _blocks_held.discard(block)


def free_port() -> int:
    """A TCP port that nothing on this machine listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])
