"""Application Auto Scaling's errors."""

from __future__ import annotations

from nimbus.errors import AwsError


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)


def not_found(message: str) -> AwsError:
    return AwsError("ObjectNotFoundException", message, 400)


def target_not_found(namespace: str, resource_id: str, dimension: str) -> AwsError:
    return not_found(
        f"No scalable target registered for service namespace: {namespace}, resource ID: {resource_id}, "
        f"scalable dimension: {dimension}"
    )
