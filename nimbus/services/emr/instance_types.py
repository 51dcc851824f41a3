"""What an EC2 instance type gives a Spark worker here: its vCPUs (from the instance table) as worker
cores and its memory as worker memory, each capped by this machine (a worker of an m5.4xlarge on a
2-core machine offers 2 cores; the workers of one cluster share three quarters of the machine's memory)."""

from __future__ import annotations

from nimbus.engines import devices
from nimbus.engines.spark.cluster import WorkerResources
from nimbus.services import instance_catalog
from nimbus.services.emr.errors import validation_error

MEMORY_SHARE = 0.75
MIN_WORKER_MEMORY_MB = 1024


def check_instance_type(instance_type: str) -> None:
    if instance_type.startswith("ml.") or not instance_catalog.known_name(instance_type):
        raise validation_error(f"Instance type '{instance_type}' is not supported.")


def aws_resources(instance_type: str) -> tuple[int, int]:
    """The instance type's vCPUs and memory in MiB on AWS."""
    instance = instance_catalog.instance_type(instance_type)
    return instance.vcpus, int(instance.memory_gib * 1024)


def worker_resources(instance_type: str, workers: int) -> WorkerResources:
    """A worker's cores and memory: the instance type's, capped by this machine's share per worker."""
    vcpus, memory_mb = aws_resources(instance_type)
    share_mb = int(devices.memory_bytes() / (1 << 20) * MEMORY_SHARE / max(1, workers))
    return WorkerResources(
        cores=min(vcpus, devices.cpu_count()), memory_mb=max(MIN_WORKER_MEMORY_MB, min(memory_mb, share_mb))
    )
