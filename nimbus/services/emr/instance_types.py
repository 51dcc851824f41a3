"""What an EC2 instance type gives a Spark worker here: its vCPUs as worker cores and its memory as
worker memory, each capped by this machine (a worker of an m5.4xlarge on a 2-core machine offers 2
cores; the workers of one cluster share three quarters of the machine's memory)."""

from __future__ import annotations

import os
import re

from nimbus.engines.spark.cluster import WorkerResources
from nimbus.services.emr.errors import validation_error

MEMORY_SHARE = 0.75
MIN_WORKER_MEMORY_MB = 1024
# vCPUs by size, and GiB of memory per vCPU by family, as AWS's instance tables give them
_SIZE_VCPUS = {"medium": 1, "large": 2, "xlarge": 4, "metal": 96}
_MEMORY_PER_VCPU = {"c": 2, "m": 4, "r": 8, "t": 2, "x": 16, "z": 8, "i": 8, "d": 8, "g": 4, "p": 8}
_INSTANCE_TYPE = re.compile(r"^(?P<family>[a-z]+)\d+[a-z-]*\.(?P<size>\d*xlarge|large|medium|metal)$")


def check_instance_type(instance_type: str) -> None:
    if _INSTANCE_TYPE.match(instance_type) is None:
        raise validation_error(f"Instance type '{instance_type}' is not supported.")


def aws_resources(instance_type: str) -> tuple[int, int]:
    """The instance type's vCPUs and memory in MiB on AWS."""
    match = _INSTANCE_TYPE.match(instance_type)
    assert match is not None, instance_type
    size = match["size"]
    vcpus = _SIZE_VCPUS[size] if size in _SIZE_VCPUS else 4 * int(size.removesuffix("xlarge"))
    return vcpus, vcpus * _MEMORY_PER_VCPU.get(match["family"][0], 4) * 1024


def worker_resources(instance_type: str, workers: int) -> WorkerResources:
    """A worker's cores and memory: the instance type's, capped by this machine's share per worker."""
    vcpus, memory_mb = aws_resources(instance_type)
    machine_cpus = max(1, len(os.sched_getaffinity(0)))
    machine_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    share_mb = int(machine_mb * MEMORY_SHARE / max(1, workers))
    return WorkerResources(
        cores=min(vcpus, machine_cpus), memory_mb=max(MIN_WORKER_MEMORY_MB, min(memory_mb, share_mb))
    )
