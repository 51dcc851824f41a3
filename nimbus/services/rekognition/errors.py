"""Rekognition's errors, with the codes and messages AWS answers with."""

from __future__ import annotations

from nimbus.errors import AwsError

NO_FACES_MESSAGE = "There are no faces in the image. Should be at least 1."


def invalid_parameter(message: str = "Request has invalid parameters") -> AwsError:
    return AwsError("InvalidParameterException", message, 400)


def no_faces_in_image() -> AwsError:
    return invalid_parameter(NO_FACES_MESSAGE)


def collection_not_found(collection_id: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The collection id: {collection_id} does not exist", 400)


def collection_exists(collection_id: str) -> AwsError:
    return AwsError(
        "ResourceAlreadyExistsException", f"The collection id: {collection_id} already exists", 400
    )


def user_not_found(user_id: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The user id: {user_id} does not exist", 400)


def face_not_found(face_id: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The face id: {face_id} does not exist", 400)


def invalid_pagination_token() -> AwsError:
    return AwsError("InvalidPaginationTokenException", "Invalid Token", 400)
