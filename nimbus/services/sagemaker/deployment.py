"""A model made ready for its workers: the artifact extracted to ``<folder>/model``, a script's
source directory to ``<folder>/code``, and what the workers run it with."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from nimbus.errors import AwsError
from nimbus.services.sagemaker.images import serving_framework
from nimbus.services.sagemaker.instances import instance_limits
from nimbus.services.sagemaker.models import MODELS
from nimbus.services.sagemaker.s3_locations import ArchiveUnreadable, extract_archive
from nimbus.services.sagemaker.workers import VariantSpec, WorkerFailed
from nimbus.storage import Storage

SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
# where the SDK points SAGEMAKER_SUBMIT_DIRECTORY when it repacked the code into the model artifact
CODE_IN_MODEL = "/opt/ml/model/code"


def model_variant(
    storage: Storage,
    account_id: str,
    region: str,
    model_name: str,
    variant_name: str,
    instance_count: int,
    weight: float,
    folder: Path,
    instance_type: str = "",
) -> VariantSpec:
    """The variant's spec, its files extracted under ``folder``; WorkerFailed when the model is gone or
    its data cannot be read."""
    with storage.database.engine.connect() as connection:
        model = connection.execute(
            select(MODELS).where(
                MODELS.c.account_id == account_id, MODELS.c.region == region, MODELS.c.name == model_name
            )
        ).first()
    if model is None:
        raise WorkerFailed(f"Could not find model {model_name}.")
    container = model.primary_container
    environment = {name: str(value) for name, value in (container.get("Environment") or {}).items()}
    try:
        framework = serving_framework(container["Image"], environment)
    except AwsError as error:
        raise WorkerFailed(error.message) from None
    _extract(storage, container["ModelDataUrl"], folder / "model", "model data")
    code = environment.get(SUBMIT_DIRECTORY, "")
    if framework and code.startswith("s3://"):
        _extract(storage, code, folder / "code", "the inference code (SAGEMAKER_SUBMIT_DIRECTORY)")
    elif framework and (code == CODE_IN_MODEL or not code) and (folder / "model" / "code").is_dir():
        (folder / "code").symlink_to(Path("model") / "code")
    return VariantSpec(
        variant_name, weight, instance_count, folder, instance_limits(instance_type), framework, environment
    )


def _extract(storage: Storage, uri: str, target: Path, what: str) -> None:
    try:
        extract_archive(storage, uri, target)
    except ArchiveUnreadable as error:
        raise WorkerFailed(f"Could not read {what}: {error}") from None
    except ValueError:
        raise WorkerFailed(
            f"Could not access {what} at {uri}. Please ensure that it is an S3 object URL."
        ) from None
