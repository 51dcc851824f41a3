"""A labelling job's S3 data moves as its RoleArn, as AWS moves it: the manifest, label categories,
images and texts are read, and the output written, only where the role may (the same evaluator as
training jobs' channels, nimbus.services.iam.role_access; a role IAM does not know is not checked)."""

from __future__ import annotations

from typing import Any

from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.sagemaker.s3_locations import DOWNLOAD_FAILED, UPLOAD_FAILED, require_role, split_s3_uri
from nimbus.storage import Storage


def job_access(storage: Storage, name: str, request: dict[str, Any]) -> RoleAccess:
    return RoleAccess(storage, request["RoleArn"], name)


def require_read(access: RoleAccess, uri: str) -> None:
    """JobFailure (ClientError: Data download failed: ...AccessDenied...) unless the role may read."""
    bucket, key = split_s3_uri(uri)
    require_role(access, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", DOWNLOAD_FAILED)


def require_write(access: RoleAccess, uri: str) -> None:
    bucket, key = split_s3_uri(uri)
    require_role(access, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", UPLOAD_FAILED)
