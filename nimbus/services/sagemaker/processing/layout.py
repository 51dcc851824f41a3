"""A processing job's instances on the host: for each, the folder that stands for its ``/opt/ml`` and
the bind mounts that make ``/opt/ml/processing/...``. An input's folder is writable (as a
container's is) and holds its S3 objects read-only, bound from the object files themselves; with
``ShardedByS3Key`` each instance gets every N-th object of the sorted keys."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nimbus.engines.learn.sandbox import ML_ROOT, Bind

LOCAL_ROOT = f"{ML_ROOT}/processing/"


@dataclass
class Instance:
    """One instance: ``root`` stands for its ``/opt/ml``; ``outputs`` pairs each output's S3 URI with
    the host folder it is uploaded from."""

    host: str  # algo-1, algo-2...
    root: Path
    binds: list[Bind] = field(default_factory=list)
    outputs: list[tuple[str, Path]] = field(default_factory=list)


def sandbox_target(local_path: str) -> str:
    """A LocalPath under /opt/ml/processing as a bind target relative to /opt/ml."""
    return local_path.rstrip("/").removeprefix(f"{ML_ROOT}/")


def prepare_instances(
    root: Path, request: dict[str, Any], arn: str, inputs: list[tuple[dict[str, Any], dict[Path, str]]]
) -> list[Instance]:
    """Clean folders and binds for every instance; ``inputs`` pairs each S3 input with its files."""
    count = request["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
    hosts = [f"algo-{index}" for index in range(1, count + 1)]
    shutil.rmtree(root, ignore_errors=True)
    instances = []
    for index, host in enumerate(hosts):
        folder = root / host
        instance = Instance(host, folder)
        config = folder / "config"
        config.mkdir(parents=True)
        (config / "processingjobconfig.json").write_text(json.dumps({**request, "ProcessingJobArn": arn}))
        resources = {"current_host": host, "hosts": hosts}
        (config / "resourceconfig.json").write_text(json.dumps(resources))
        (folder / "output").mkdir()
        instance.binds += [Bind(config, "config"), Bind(folder / "output", "output", writable=True)]
        for item, files in inputs:
            source = item["S3Input"]
            target = sandbox_target(source["LocalPath"])
            directory = folder / "inputs" / item["InputName"]
            directory.mkdir(parents=True)
            instance.binds.append(Bind(directory, target, writable=True))
            share = sorted(files.items(), key=lambda pair: pair[1])
            if source.get("S3DataDistributionType") == "ShardedByS3Key":
                share = share[index::count]
            instance.binds += [Bind(path, f"{target}/{relative}") for path, relative in share]
        for output in (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
            directory = folder / "outputs" / output["OutputName"]
            directory.mkdir(parents=True)
            instance.binds.append(
                Bind(directory, sandbox_target(output["S3Output"]["LocalPath"]), writable=True)
            )
            instance.outputs.append((output["S3Output"]["S3Uri"], directory))
        instances.append(instance)
    return instances
