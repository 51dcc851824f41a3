"""A role handed to a service must be one the service can assume: it exists in IAM and its trust
policy names the service. AWS refuses the request otherwise, with each service's own error, and
creates nothing; so does Nimbus, right after iam:PassRole is decided for the same roles (a role
ARN that names no role would otherwise let a job move data with the platform's rights).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nimbus.services.emr.errors import validation_error as emr_validation_error
from nimbus.services.sagemaker.errors import validation_error as sagemaker_validation_error
from nimbus.services.sts.role_credentials import EC2, SAGEMAKER, instance_profile_role
from nimbus.services.sts.sessions import find_role, trusts
from nimbus.storage import Storage

EMR = "elasticmapreduce.amazonaws.com"


def require_assumable(
    storage: Storage, prefix: str, request: Mapping[str, Any], roles: Iterable[str], account: str
) -> None:
    """Raises the service's error for the first role in ``roles`` (those the request hands over)
    that its service cannot assume. EMR's JobFlowRole names an instance profile, whose role EC2
    assumes on the cluster's nodes."""
    if prefix == "sagemaker":
        for role in roles:
            if not _assumable(storage, role, SAGEMAKER):
                raise sagemaker_validation_error(
                    f"Could not assume role {role}. Please ensure that the role exists and allows "
                    f"principal '{SAGEMAKER}' to assume the role."
                )
    elif prefix == "elasticmapreduce":
        _require_emr_roles(storage, request, account)


def _require_emr_roles(storage: Storage, request: Mapping[str, Any], account: str) -> None:
    service_role = request.get("ServiceRole") or ""
    if service_role:
        named = f"arn:aws:iam::{account}:role/{service_role}"
        arn = service_role if service_role.startswith("arn:") else named
        if not _assumable(storage, arn, EMR):
            raise emr_validation_error(f"EMR service role {arn} is invalid")
    profile = request.get("JobFlowRole") or ""
    if profile:
        role = instance_profile_role(storage, account, profile.rsplit("/", 1)[-1])
        if not role or not _assumable(storage, role, EC2):
            raise emr_validation_error(f"Invalid InstanceProfile: {profile}.")


def _assumable(storage: Storage, arn: str, service: str) -> bool:
    role = find_role(storage, arn)
    return role is not None and trusts(role, service)
