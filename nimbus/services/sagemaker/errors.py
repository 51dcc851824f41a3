"""SageMaker's errors, with the codes and messages AWS answers with."""

from __future__ import annotations

from nimbus.errors import AwsError


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)


def not_found() -> AwsError:
    return validation_error("Requested resource not found.")


def resource_in_use(message: str) -> AwsError:
    return AwsError("ResourceInUse", message, 400)


def resource_not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFound", message, 400)
