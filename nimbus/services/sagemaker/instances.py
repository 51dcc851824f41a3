"""What an ML instance type gets on this machine: its vCPUs and memory, scaled down to what the
machine has (a job asking for ml.m5.4xlarge on a 2-core machine gets 2 cores, and is told so)."""

from __future__ import annotations

import os
import re

from nimbus.engines.learn.sandbox import Limits

# the share of the machine's memory one sandbox may use at most
MEMORY_SHARE = 0.75
GIB = 1 << 30
# vCPUs by size, and GiB of memory per vCPU by family, as AWS's instance tables give them
_SIZE_VCPUS = {"medium": 2, "large": 2, "xlarge": 4}
_MEMORY_PER_VCPU = {"c": 2, "m": 4, "r": 8, "t": 2, "x": 16, "z": 8}
_INSTANCE = re.compile(r"^ml\.(?P<family>[a-z]+)\d*[a-z-]*\.(?P<size>\d*x?large|medium)$")


def instance_vcpus(instance_type: str) -> int:
    match = _INSTANCE.match(instance_type or "")
    if match is None:
        return 2
    size = match["size"]
    if size in _SIZE_VCPUS:
        return _SIZE_VCPUS[size]
    return 4 * int(size.removesuffix("xlarge"))


def instance_limits(instance_type: str) -> Limits:
    """The instance's vCPUs and memory, each capped by this machine's."""
    match = _INSTANCE.match(instance_type or "")
    vcpus = instance_vcpus(instance_type)
    per_vcpu = _MEMORY_PER_VCPU.get(match["family"][0] if match else "m", 4)
    machine_cpus = max(1, len(os.sched_getaffinity(0)))
    machine_memory = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_SHARE)
    return Limits(cpus=min(vcpus, machine_cpus), memory_bytes=min(vcpus * per_vcpu * GIB, machine_memory))


def describe_limits(instance_type: str, limits: Limits) -> str:
    """The log line that says what this machine gives the instance, against what AWS would."""
    return (
        f"Nimbus runs this {instance_type or 'instance'} on this machine with {limits.cpus} vCPUs and "
        f"{limits.memory_bytes / GIB:.1f} GiB of address space (AWS: {instance_vcpus(instance_type)} vCPUs)."
    )
