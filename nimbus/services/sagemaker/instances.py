"""What an ML instance type gets on this machine: its vCPUs, memory and GPUs from the instance table,
scaled down to what the machine has (a job asking for ml.m5.4xlarge on a 2-core machine gets 2 cores,
and is told so; a GPU type on a machine without a GPU runs on the CPU, and is told so)."""

from __future__ import annotations

from nimbus.engines.learn.sandbox import Limits
from nimbus.services import instance_catalog
from nimbus.services.sagemaker import sagemaker
from nimbus.storage import Storage


def instance_limits(instance_type: str) -> Limits:
    """The instance's vCPUs, memory and GPUs, each capped by this machine's."""
    return instance_catalog.machine_limits(instance_catalog.instance_type(instance_type))


def describe_limits(instance_type: str, limits: Limits) -> str:
    """The log line that says what this machine gives the instance, against what AWS would."""
    return instance_catalog.describe_limits(instance_catalog.instance_type(instance_type), limits)


def check_instance_table(storage: Storage) -> None:
    """At start: a NIMBUS_INSTANCE_TYPES file that cannot be read stops Nimbus, saying why."""
    instance_catalog.catalog()


sagemaker.on_startup(check_instance_table)
