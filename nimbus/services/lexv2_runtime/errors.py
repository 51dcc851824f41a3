"""Lex V2 runtime errors, with the codes and statuses AWS answers with."""

from __future__ import annotations

from nimbus.errors import AwsError


def resource_not_found(message: str) -> AwsError:
    return AwsError("ResourceNotFoundException", message, 404)


def validation(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)


def dependency_failed(message: str) -> AwsError:
    return AwsError("DependencyFailedException", message, 424)


def conflict(message: str) -> AwsError:
    return AwsError("ConflictException", message, 409)


def session_not_found(session_id: str) -> AwsError:
    return resource_not_found(f"Session {session_id} does not exist.")
