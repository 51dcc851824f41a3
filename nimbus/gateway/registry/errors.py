"""The registry's errors, as the OCI distribution spec words them: ``{"errors": [{"code", "message",
"detail"}]}`` with the spec's status codes. ECR's own error codes (raised by the service below) are
mapped to them here."""

from __future__ import annotations

import json

from nimbus.errors import AwsError
from nimbus.protocol.http import HttpResponse

API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}
STATUS = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DENIED": 403,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "RANGE_INVALID": 416,
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,
    "UNAUTHORIZED": 401,
    "UNSUPPORTED": 405,
}
# ECR's error codes -> the distribution spec's
FROM_ECR = {
    "RepositoryNotFoundException": "NAME_UNKNOWN",
    "ImageNotFoundException": "MANIFEST_UNKNOWN",
    "LayersNotFoundException": "MANIFEST_BLOB_UNKNOWN",
    "ReferencedImagesNotFoundException": "MANIFEST_BLOB_UNKNOWN",
    "ImageDigestDoesNotMatchException": "DIGEST_INVALID",
    "ImageTagAlreadyExistsException": "TAG_INVALID",
    "InvalidLayerException": "DIGEST_INVALID",
    "UploadNotFoundException": "BLOB_UPLOAD_UNKNOWN",
    "ImageReferencedByManifestList": "DENIED",
}


class RegistryError(Exception):
    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}


def from_aws(error: AwsError, invalid: str = "MANIFEST_INVALID") -> RegistryError:
    """A service error as the registry answers it: access denials are DENIED, bad input ``invalid``."""
    if error.status == 403 or "AccessDenied" in error.code:
        return RegistryError("DENIED", error.message)
    if error.code == "InvalidParameterException" and "'imageTag'" in error.message:
        return RegistryError("TAG_INVALID", error.message)
    return RegistryError(
        FROM_ECR.get(error.code, invalid if error.status < 500 else "UNKNOWN"), error.message
    )


def error_response(error: RegistryError) -> HttpResponse:
    body = json.dumps({"errors": [{"code": error.code, "message": error.message, "detail": None}]}).encode()
    headers = {"Content-Type": "application/json", **API_VERSION, **error.headers}
    return HttpResponse(STATUS.get(error.code, 500), headers, body)
