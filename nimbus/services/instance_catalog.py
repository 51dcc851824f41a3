"""Instance types, SageMaker's (``ml.*``) and EC2's: vCPUs, memory, GPUs and on-demand price per hour,
each figure with where it comes from, and what a type gets on this machine.

The table ships as ``instance_types.json`` (built by tools/build_instance_types.py from public
package files, every source cited in it). ``NIMBUS_INSTANCE_TYPES`` names a JSON file of the same
form whose rows replace or extend the shipped ones member by member (a price of your region or
contract, a type the table lacks); its ``sources`` are cited like the shipped ones. A type in
neither is read from its name (size -> vCPUs, family -> memory per vCPU), and says so.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nimbus.config import Settings
from nimbus.engines import devices
from nimbus.engines.learn.sandbox import Limits

TABLE = Path(__file__).with_name("instance_types.json")
GIB = 1 << 30
# the share of the machine's memory one sandbox may use at most
MEMORY_SHARE = 0.75
NAME_SOURCE = "read from the type's name: its size gives the vCPUs, its family the GiB per vCPU"
# vCPUs by size, and GiB of memory per vCPU by family letter, for types the table lacks
_SIZE_VCPUS = {"medium": 1, "large": 2, "xlarge": 4, "metal": 96}
_MEMORY_PER_VCPU = {"c": 2, "m": 4, "r": 8, "t": 2, "x": 16, "z": 8, "i": 8, "d": 8, "g": 4, "p": 8}
_NAME = re.compile(r"^(?:ml\.)?(?P<family>[a-z]+)\d+[a-z-]*\.(?P<size>\d*xlarge|large|medium|metal)$")


@dataclass(frozen=True)
class InstanceType:
    """One type's figures as AWS gives them; ``sources`` says where each group of figures comes from
    (``specs``, ``gpus``, ``gpu_model``, ``price``). ``gpu_count`` is None for a GPU type whose GPU
    count no source gives."""

    name: str
    vcpus: int
    memory_gib: float
    gpu_count: int | None = 0
    gpu_memory_gib: float | None = 0
    gpu_model: str | None = None
    price_per_hour: float | None = None
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def has_gpu(self) -> bool:
        return self.gpu_count != 0

    @property
    def gpu_description(self) -> str:
        count = "an unknown number of" if self.gpu_count is None else str(self.gpu_count)
        return f"{count} {self.gpu_model or 'NVIDIA'} GPU(s)"


def _citation(source: dict[str, Any]) -> str:
    parts = [source.get("package", ""), source.get("file", "")]
    parts += [f"{name} {source[name]}" for name in ("region", "date") if source.get(name)]
    return ", ".join(part for part in parts if part)


def _read(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    document = json.loads(path.read_text())
    return document.get("sources", {}), document.get("types", {})


@functools.cache
def _catalog(override: str | None, override_mtime: float) -> dict[str, InstanceType]:
    sources, rows = _read(TABLE)
    if override:
        try:
            extra_sources, extra_rows = _read(Path(override))
            if not isinstance(extra_rows, dict) or not isinstance(extra_sources, dict):
                raise ValueError('its "types" and "sources" must be JSON objects')
        except (OSError, ValueError) as error:
            raise ValueError(
                f"NIMBUS_INSTANCE_TYPES names {override}, which cannot be used: {error}"
            ) from None
        sources = {**sources, **extra_sources}
        for name, row in extra_rows.items():
            rows[name] = {**rows.get(name, {}), **row}
    try:
        return {name: _instance(name, row, sources) for name, row in rows.items()}
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"an instance type of NIMBUS_INSTANCE_TYPES lacks or mistypes {error}") from None


def _instance(name: str, row: dict[str, Any], sources: dict[str, Any]) -> InstanceType:
    cited = {
        figure: _citation(sources.get(row.get(f"{figure}_source") or "", {}))
        for figure in ("specs", "gpus", "gpu_model", "price")
        if row.get(f"{figure}_source")
    }
    return InstanceType(
        name,
        int(row["vcpus"]),
        float(row["memory_gib"]),
        row.get("gpu_count", 0),
        row.get("gpu_memory_gib", 0),
        row.get("gpu_model"),
        row.get("price_per_hour"),
        cited,
    )


def catalog() -> dict[str, InstanceType]:
    """Every type of the table, the user's file applied (re-read when it changes)."""
    override = Settings().instance_types
    mtime = override.stat().st_mtime if override is not None and override.exists() else 0.0
    return _catalog(str(override) if override is not None else None, mtime)


def known_name(name: str) -> bool:
    """Whether the name is one of an instance type (in the table, or of the ``family.size`` form)."""
    return name in catalog() or _NAME.match(name or "") is not None


def instance_type(name: str) -> InstanceType:
    """The type's figures; one the table lacks is read from its name (a default of 2 vCPUs when
    even that fails, as a job without a type gets)."""
    found = catalog().get(name)
    if found is not None:
        return found
    match = _NAME.match(name or "")
    if match is None:
        return InstanceType(name, 2, 8.0, sources={"specs": NAME_SOURCE})
    size = match["size"]
    vcpus = _SIZE_VCPUS[size] if size in _SIZE_VCPUS else 4 * int(size.removesuffix("xlarge"))
    gpus = None if match["family"][0] in "gp" else 0
    memory = vcpus * _MEMORY_PER_VCPU.get(match["family"][0], 4)
    return InstanceType(name, vcpus, float(memory), gpus, gpus, sources={"specs": NAME_SOURCE})


def machine_limits(instance: InstanceType, share: float = MEMORY_SHARE) -> Limits:
    """What the type gets here: its vCPUs, memory and GPUs, each capped by this machine's (memory: a
    ``share`` of it). A GPU type gets this machine's GPUs, up to its count; none where there are none."""
    memory = min(int(instance.memory_gib * GIB), int(devices.memory_bytes() * share))
    wanted_gpus = len(devices.gpu_names()) if instance.gpu_count is None else instance.gpu_count
    return Limits(
        cpus=min(instance.vcpus, devices.cpu_count()),
        memory_bytes=memory,
        gpus=min(wanted_gpus, len(devices.gpu_names())),
    )


def describe_limits(instance: InstanceType, limits: Limits) -> str:
    """The log line that says what this machine gives the instance, against what AWS would."""
    gpus = ""
    if instance.has_gpu:
        here = (
            f"{limits.gpus} of this machine's GPUs ({', '.join(devices.gpu_names())})"
            if limits.gpus
            else "no GPU"
        )
        gpus = f"; AWS: {instance.gpu_description}, here {here}" + (
            "" if limits.gpus else ": it runs on the CPU"
        )
    return (
        f"Nimbus runs this {instance.name or 'instance'} on this machine with {limits.cpus} vCPUs and "
        f"{limits.memory_bytes / GIB:.1f} GiB of address space (AWS: {instance.vcpus} vCPUs, "
        f"{instance.memory_gib:g} GiB){gpus}."
    )
