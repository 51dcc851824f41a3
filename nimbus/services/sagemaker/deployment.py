"""A model made ready for its workers: the artifact extracted to ``<folder>/model``, a script's
source directory to ``<folder>/code``, and what the workers run it with."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from nimbus.engines.containers.run import ContainerImage
from nimbus.engines.containers.runtime import ContainerRuntime, runtime_problem
from nimbus.errors import AwsError
from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.sagemaker.containers import (
    ImagePullDenied,
    container_runtime,
    is_container_image,
    pullable_image,
)
from nimbus.services.sagemaker.images import serving_framework
from nimbus.services.sagemaker.instances import instance_limits
from nimbus.services.sagemaker.models import MODELS
from nimbus.services.sagemaker.s3_locations import ArchiveUnreadable, extract_archive, split_s3_uri
from nimbus.services.sagemaker.workers import VariantSpec, WorkerFailed
from nimbus.services.sts.role_credentials import SAGEMAKER, role_environment
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
    isolated = model.enable_network_isolation
    role, _ = role_environment(
        storage, model.execution_role_arn or "", SAGEMAKER, model_name, region, isolated
    )
    environment.update(role)  # the inference code calls AWS as the model's execution role
    access = RoleAccess(storage, model.execution_role_arn or "", model_name)  # and its data is read as it
    limits = instance_limits(instance_type)
    if is_container_image(storage, container["Image"], account_id, region):
        (folder / "model").mkdir(parents=True, exist_ok=True)
        if container.get("ModelDataUrl"):
            _extract(storage, container["ModelDataUrl"], folder / "model", "model data", access)
        return VariantSpec(
            variant_name,
            weight,
            instance_count,
            folder,
            limits,
            environment=environment,
            container=_pulled_image(storage, container["Image"], account_id, region, access),
            runtime=_runtime(storage),
            isolated=isolated,
        )
    try:
        framework = serving_framework(container["Image"], environment)
    except AwsError as error:
        raise WorkerFailed(error.message) from None
    _extract(storage, container["ModelDataUrl"], folder / "model", "model data", access)
    code = environment.get(SUBMIT_DIRECTORY, "")
    if framework and code.startswith("s3://"):
        _extract(storage, code, folder / "code", "the inference code (SAGEMAKER_SUBMIT_DIRECTORY)", access)
    elif framework and (code == CODE_IN_MODEL or not code) and (folder / "model" / "code").is_dir():
        (folder / "code").symlink_to(Path("model") / "code")
    return VariantSpec(variant_name, weight, instance_count, folder, limits, framework, environment)


def _pulled_image(
    storage: Storage, uri: str, account_id: str, region: str, access: RoleAccess
) -> ContainerImage:
    """The model's image, pulled as its execution role: WorkerFailed when the role may not pull it."""
    try:
        return pullable_image(storage, uri, account_id, region, access)
    except ImagePullDenied as denied:
        raise WorkerFailed(str(denied).removeprefix("ClientError: ")) from None


def _runtime(storage: Storage) -> ContainerRuntime:
    """The container runtime, with the image pulled by the caller; WorkerFailed where none works."""
    runtime = container_runtime(storage)
    problem = runtime_problem(runtime)
    if runtime is None or problem is not None:
        raise WorkerFailed(f"the model's image needs a container runtime: {problem}")
    return runtime


def _extract(storage: Storage, uri: str, target: Path, what: str, access: RoleAccess) -> None:
    try:
        bucket, key = split_s3_uri(uri)
        denied = access.denial("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
        if denied:
            raise WorkerFailed(
                f"Failed to download {what} from {uri}: {denied}. Please ensure that the role passed to "
                "CreateModel has permissions to download it."
            )
        extract_archive(storage, uri, target)
    except ArchiveUnreadable as error:
        raise WorkerFailed(f"Could not read {what}: {error}") from None
    except ValueError:
        raise WorkerFailed(
            f"Could not access {what} at {uri}. Please ensure that it is an S3 object URL."
        ) from None
