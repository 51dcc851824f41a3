"""SageMaker's container contract for the user's own images: which image URIs run in a container
(an image of Nimbus's registry, by its address or by the ECR host name of the caller's account, or
of a registry configured with ``NIMBUS_CONTAINER_REGISTRIES``), and how each kind of job runs it:
training with ``train``, hosting with ``serve`` answering ``/ping`` and ``/invocations`` on port 8080,
processing with the job's entrypoint and arguments. Images Nimbus maps to its own runtimes (AWS's
algorithm and framework images) are not containers here."""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass

from nimbus.config import Settings
from nimbus.engines.containers.run import ContainerImage, remove_leftovers
from nimbus.engines.containers.runtime import ContainerRuntime, find_runtime, runtime_problem
from nimbus.errors import AwsError
from nimbus.services.ecr.address import registry_address
from nimbus.services.ecr.image_records import resolve
from nimbus.services.ecr.login import RegistryGrant, registry_password
from nimbus.services.ecr.records import RepositoryKey
from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.s3_locations import JobFailure
from nimbus.storage import Storage

_ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
_REFERENCE = re.compile(
    r"^(?P<host>[^/]+)/(?P<repository>[a-z0-9._/-]+?)(:(?P<tag>[\w.-]+)|@(?P<digest>sha256:[0-9a-f]{64}))?$"
)
PULL_LIFETIME_S = 3600


@dataclass(frozen=True)
class ImageLocation:
    """Where an image URI points: Nimbus's registry (``key`` the repository) or another registry."""

    uri: str
    key: RepositoryKey | None
    reference: str  # a tag or digest
    by_address: bool = False  # named by the registry's address (not by an ECR host name)


def container_runtime(storage: Storage) -> ContainerRuntime | None:
    return find_runtime(storage.data_dir / "containers", Settings().container_runtime)


def locate_image(uri: str, account_id: str, region: str) -> ImageLocation | None:
    """Where the image lives when it runs in a container; None for an image Nimbus maps to a runtime
    of its own (or one it does not know at all)."""
    match = _REFERENCE.match(uri)
    if match is None:
        return None
    host, reference = match["host"], match["digest"] or match["tag"] or "latest"
    ecr = _ECR_HOST.match(host)
    if host == registry_address() or host.replace("localhost", "127.0.0.1") == registry_address():
        return ImageLocation(uri, RepositoryKey(account_id, region, match["repository"]), reference, True)
    if ecr is not None and ecr["account"] == account_id:
        return ImageLocation(uri, RepositoryKey(account_id, ecr["region"], match["repository"]), reference)
    configured = {entry.strip() for entry in Settings().container_registries.split(",") if entry.strip()}
    return ImageLocation(uri, None, reference) if host in configured else None


def is_container_image(storage: Storage, uri: str, account_id: str, region: str) -> bool:
    """Whether the image runs in a container: one of a configured registry, or an image of Nimbus's
    registry (an ECR URI of the caller's account counts only when the repository exists here, so
    that AWS's own algorithm images keep their runtimes)."""
    location = locate_image(uri, account_id, region)
    if location is None:
        return False
    if location.key is None or location.by_address:
        return True
    with storage.database.engine.connect() as connection:
        return resolve(connection, location.key, location.reference) is not None


def check_container_image(storage: Storage, uri: str, account_id: str, region: str) -> None:
    """At create time: a ValidationException unless a container runtime works here and the image is
    in its registry."""
    problem = runtime_problem(container_runtime(storage))
    if problem is not None:
        raise AwsError("ValidationException", f"Nimbus cannot run the image {uri!r}: {problem}.", 400)
    location = locate_image(uri, account_id, region)
    assert location is not None
    if location.key is None:
        return  # another registry's image: the runtime pulls it when the job starts
    with storage.database.engine.connect() as connection:
        found = resolve(connection, location.key, location.reference)
    if found is None:
        raise AwsError(
            "ValidationException",
            f"Requested image {uri} not found: push it to repository {location.key.name} of Nimbus's "
            f"registry ({registry_address()}) first.",
            400,
        )


class ImagePullDenied(JobFailure):
    """The job's role may not pull its image from Nimbus's registry: AWS's ClientError for it."""


def pullable_image(
    storage: Storage, uri: str, account_id: str, region: str, role: RoleAccess
) -> ContainerImage:
    """What the runtime pulls: an image of Nimbus's registry by its address, with a registry
    password of the account once the job's role may pull it (ImagePullDenied otherwise); another
    registry's image as given."""
    location = locate_image(uri, account_id, region)
    assert location is not None
    if location.key is None:
        return ContainerImage(uri)
    _require_pull(role, location.key)
    separator = "@" if location.reference.startswith("sha256:") else ":"
    root = storage.credentials.root()
    grant = RegistryGrant(root.access_key_id, "", account_id, location.key.region)
    password, _ = registry_password(storage, grant, PULL_LIFETIME_S)
    return ContainerImage(
        f"{registry_address()}/{location.key.name}{separator}{location.reference}",
        credentials=f"AWS:{password}",
        tls_verify=False,  # Nimbus's own registry on loopback, whose certificate (with --tls) is its own
    )


def _require_pull(role: RoleAccess, key: RepositoryKey) -> None:
    """As SageMaker pulls with the role's credentials: a registry login (GetAuthorizationToken), the
    manifest (BatchGetImage) and the layers (GetDownloadUrlForLayer), decided with the role's
    policies, the repository's policy and its tags. The deciding statement is logged."""
    needed = (
        ("ecr:GetAuthorizationToken", "*"),
        ("ecr:BatchGetImage", key.arn),
        ("ecr:GetDownloadUrlForLayer", key.arn),
    )
    for action, resource in needed:
        if role.denial(action, resource):
            raise ImagePullDenied(
                f"ClientError: Access denied for repository: {key.name} in registry ID: {key.account_id}. "
                f"Please check if your ECR repository and image exist and role {role.role_arn} has proper "
                "pull permissions for SageMaker: ecr:BatchCheckLayerAvailability, ecr:BatchGetImage, "
                "ecr:GetDownloadUrlForLayer"
            )


def remove_leftover_containers(storage: Storage) -> None:
    """At start: containers of jobs and endpoints that a killed Nimbus left behind are removed (the
    jobs are failed and the endpoints restored by their own startup hooks). The runtime's full check
    (``info``, a second or more, which the health answer reports) runs beside the rest of the start;
    the list of leftovers is all this waits for (a runtime that cannot run containers refuses it)."""
    runtime = container_runtime(storage)
    if runtime is not None:
        threading.Thread(target=runtime_problem, args=(runtime,), name="container-check", daemon=True).start()
        with contextlib.suppress(OSError):  # a runtime program that cannot be started has left nothing
            remove_leftovers(runtime)


sagemaker.on_startup(remove_leftover_containers)
