"""ECR's rows: where a repository is, its ARN and URI, and the errors that name it. Shared by the
ECR operations and the registry (OCI distribution) API in the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from nimbus.errors import AwsError
from nimbus.services.ecr.address import registry_address
from nimbus.services.registry import RequestContext
from nimbus.storage import Storage
from nimbus.storage.ecr_schema import (
    EcrImageRecord,
    EcrLayerRecord,
    EcrRepositoryRecord,
    EcrTagRecord,
    EcrUploadRecord,
)
from nimbus.storage.image_blobs import ImageBlobs

REPOSITORIES = EcrRepositoryRecord.__table__
IMAGES = EcrImageRecord.__table__
TAGS = EcrTagRecord.__table__
LAYERS = EcrLayerRecord.__table__
UPLOADS = EcrUploadRecord.__table__


@dataclass(frozen=True)
class RepositoryKey:
    account_id: str
    region: str
    name: str

    def where(self, table: Any) -> Any:
        """The rows of ``table`` that belong to this repository."""
        column = table.c.name if table is REPOSITORIES else table.c.repository
        return (
            (table.c.account_id == self.account_id) & (table.c.region == self.region) & (column == self.name)
        )

    @property
    def arn(self) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account_id}:repository/{self.name}"

    @classmethod
    def of_arn(cls, arn: str) -> RepositoryKey | None:
        """The repository ``arn:aws:ecr:<region>:<account>:repository/<name>`` names, or None."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[2] != "ecr" or not parts[5].startswith("repository/"):
            return None
        return cls(parts[4], parts[3], parts[5].removeprefix("repository/"))

    @property
    def uri(self) -> str:
        """What ``docker push`` takes: this Nimbus's registry address and the repository's name."""
        return f"{registry_address()}/{self.name}"


def blobs(storage: Storage) -> ImageBlobs:
    return ImageBlobs(storage.data_dir / "ecr")


def repository_key(account_id: str, region: str, request: dict[str, Any]) -> RepositoryKey:
    """The repository a request names, in the caller's registry (``registryId`` must be it)."""
    registry = request.get("registryId")
    if registry and registry != account_id:
        raise repository_not_found(request.get("repositoryName", ""), registry)
    return RepositoryKey(account_id, region, request.get("repositoryName", ""))


def request_key(ctx: RequestContext, request: dict[str, Any]) -> RepositoryKey:
    """The repository an ECR request names, in the caller's registry and region."""
    return repository_key(ctx.caller.account_id, ctx.region, request)


def update_repository(storage: Storage, key: RepositoryKey, **values: Any) -> Any:
    """Sets columns of the repository's row; returns the row as it was."""
    with storage.database.engine.begin() as connection:
        row = find_repository(connection, key)
        connection.execute(update(REPOSITORIES).where(key.where(REPOSITORIES)).values(**values))
    return row


def find_repository(connection: Connection, key: RepositoryKey) -> Any:
    row = connection.execute(select(REPOSITORIES).where(key.where(REPOSITORIES))).first()
    if row is None:
        raise repository_not_found(key.name, key.account_id)
    return row


def repository_not_found(name: str, registry: str) -> AwsError:
    return AwsError(
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '{registry}'",
        400,
    )


def invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameterException", message, 400)


def page_of(
    items: list[Any], request: dict[str, Any], default_size: int = 100
) -> tuple[list[Any], str | None]:
    """One page of ``items`` by ``maxResults`` and ``nextToken`` (the offset of the next page)."""
    token = request.get("nextToken")
    if token is not None and not token.isdigit():
        raise invalid_parameter(
            "Invalid parameter at 'nextToken' failed to satisfy constraint: the token is invalid"
        )
    start = int(token or 0)
    end = start + (request.get("maxResults") or default_size)
    return items[start:end], str(end) if end < len(items) else None
