"""Repository policies (who else may push and pull: the authorization step evaluates them as the
repository's resource policy, for ECR's API and the registry's alike) and lifecycle policies."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import select

from nimbus.errors import AwsError
from nimbus.policy import Policy, PolicyError, parse_policy
from nimbus.services.ecr import ecr
from nimbus.services.ecr.lifecycle import apply_lifecycle_policy
from nimbus.services.ecr.lifecycle import parse_policy as parse_lifecycle_policy
from nimbus.services.ecr.records import (
    REPOSITORIES,
    RepositoryKey,
    find_repository,
    invalid_parameter,
    request_key,
    update_repository,
)
from nimbus.services.registry import RequestContext
from nimbus.storage import Storage

MAX_POLICY_BYTES = 10240


def _stored(
    ctx: RequestContext, request: dict[str, Any], column: str, kind: str
) -> tuple[RepositoryKey, Any]:
    """The repository and its row, which must hold a ``kind`` ("Repository", "Lifecycle") policy."""
    key = request_key(ctx, request)
    with ctx.storage.database.engine.connect() as connection:
        row = find_repository(connection, key)
    if getattr(row, column) is None:
        raise AwsError(
            f"{kind}PolicyNotFoundException",
            f"{kind} policy does not exist for the repository with name '{key.name}' in the registry "
            f"with id '{key.account_id}'",
            400,
        )
    return key, row


@ecr.operation
def set_repository_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key = request_key(ctx, request)
    text = request["policyText"]
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise invalid_parameter(
            f"Invalid parameter at 'PolicyText': the policy is larger than {MAX_POLICY_BYTES} bytes"
        )
    try:
        parse_policy(text, "trust", f"repository policy of {key.name}")
    except PolicyError as error:
        raise invalid_parameter(
            "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
            f"'Invalid repository policy provided: {error}'"
        ) from None
    update_repository(ctx.storage, key, policy_text=text)
    return {"registryId": key.account_id, "repositoryName": key.name, "policyText": text}


@ecr.operation
def get_repository_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key, row = _stored(ctx, request, "policy_text", "Repository")
    return {"registryId": key.account_id, "repositoryName": key.name, "policyText": row.policy_text}


@ecr.operation
def delete_repository_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    answer = get_repository_policy(ctx, request)
    update_repository(ctx.storage, request_key(ctx, request), policy_text=None)
    return answer


@ecr.operation
def put_lifecycle_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Applied at once, and again after every push."""
    key = request_key(ctx, request)
    text = request["lifecyclePolicyText"]
    parse_lifecycle_policy(text)
    update_repository(ctx.storage, key, lifecycle_policy_text=text)
    apply_lifecycle_policy(ctx.storage, key)
    return {"registryId": key.account_id, "repositoryName": key.name, "lifecyclePolicyText": text}


@ecr.operation
def get_lifecycle_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    key, row = _stored(ctx, request, "lifecycle_policy_text", "Lifecycle")
    answer = {
        "registryId": key.account_id,
        "repositoryName": key.name,
        "lifecyclePolicyText": row.lifecycle_policy_text,
    }
    return answer | ({"lastEvaluatedAt": row.lifecycle_updated_at} if row.lifecycle_updated_at else {})


@ecr.operation
def delete_lifecycle_policy(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    answer = get_lifecycle_policy(ctx, request)
    update_repository(
        ctx.storage, request_key(ctx, request), lifecycle_policy_text=None, lifecycle_updated_at=None
    )
    return answer


def repository_resource_policy(storage: Storage, arn: str) -> Policy | None:
    """The repository policy of ``arn:aws:ecr:<region>:<account>:repository/<name>``, if it has one."""
    key = RepositoryKey.of_arn(arn)
    if key is None:
        return None
    with storage.database.engine.connect() as connection:
        text = connection.execute(select(REPOSITORIES.c.policy_text).where(key.where(REPOSITORIES))).scalar()
    return _parsed(key.name, text) if text else None


@lru_cache(maxsize=256)
def _parsed(name: str, text: str) -> Policy:
    return parse_policy(text, "trust", f"repository policy of {name}")


ecr.resource_policies(repository_resource_policy)
