"""Lex V2's errors, with its codes and statuses."""

from __future__ import annotations

from nimbus.errors import AwsError


def not_found(kind: str, identifier: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Could not find {kind} with ID '{identifier}'.", 404)


def conflict(message: str) -> AwsError:
    return AwsError("ConflictException", message, 409)


def precondition_failed(message: str) -> AwsError:
    return AwsError("PreconditionFailedException", message, 412)


def invalid(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)
