"""Credentials of an execution role for the code a job runs, handed over as AWS hands them to
containers: ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` points at this Nimbus's ``/_nimbus/credentials``
and ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` is the job's grant, so boto3 (and every SDK) fetches the
role's temporary credentials, and fetches new ones before they expire, however long the job runs.

A role its service may not assume (missing, or its trust policy does not name the service) gives
the job no credentials; the job's log says why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from nimbus.services.iam.records import PROFILES, ROLES
from nimbus.services.sts.sessions import find_role, role_session, trusts
from nimbus.storage import Storage
from nimbus.storage.session_tokens import InvalidToken

CREDENTIALS_PATH = "/_nimbus/credentials"
SAGEMAKER = "sagemaker.amazonaws.com"
EC2 = "ec2.amazonaws.com"  # EMR's nodes act as their instance profile's role, as EC2 instances
SESSION_S = 3600
_served_at = {"url": "http://127.0.0.1:4566", "ca_bundle": ""}


def serve_at(endpoint_url: str, ca_bundle: str = "") -> None:
    """Where this Nimbus answers (set at start): the URL jobs reach it at, and over HTTPS the CA
    bundle that verifies it (jobs get it as ``AWS_CA_BUNDLE``)."""
    _served_at.update(url=endpoint_url, ca_bundle=ca_bundle)


def served_at() -> str:
    """The URL this Nimbus answers at."""
    return _served_at["url"]


def role_environment(
    storage: Storage, role_arn: str, service: str, session_name: str, region: str, isolated: bool = False
) -> tuple[dict[str, str], str]:
    """(environment for the job's processes, a line for its log). ``service`` is the principal that
    assumes the role ("sagemaker.amazonaws.com"); an ``isolated`` job (network isolation) gets none."""
    if isolated:
        return {}, "network isolation: the job has no network and no AWS credentials"
    role = find_role(storage, role_arn)
    endpoint = _served_at["url"]
    base = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if _served_at["ca_bundle"]:
        base["AWS_CA_BUNDLE"] = _served_at["ca_bundle"]
    if role is None:
        return base, f"role {role_arn} does not exist: the job runs without AWS credentials"
    if not trusts(role, service):
        return (
            base,
            f"the trust policy of {role_arn} does not let {service} assume it: "
            "the job runs without AWS credentials",
        )
    grant = storage.sessions.sign({"role": role_arn, "service": service, "session": session_name[:64]})
    environment = {
        **base,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint + CREDENTIALS_PATH,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": grant,
    }
    return environment, f"the job runs with the credentials of {role_arn}"


def instance_profile_role(storage: Storage, account_id: str, profile_name: str) -> str:
    """The ARN of the role in an instance profile (EMR's JobFlowRole), or "" when there is none."""
    with storage.database.engine.connect() as connection:
        row = connection.execute(
            select(ROLES.c.path, ROLES.c.name)
            .join(
                PROFILES,
                (PROFILES.c.account_id == ROLES.c.account_id) & (PROFILES.c.role_key == ROLES.c.name_key),
            )
            .where(PROFILES.c.account_id == account_id, PROFILES.c.name_key == profile_name.lower())
        ).first()
    return f"arn:aws:iam::{account_id}:role{row.path}{row.name}" if row is not None else ""


def credentials_answer(storage: Storage, authorization: str) -> tuple[int, bytes]:
    """The container credentials endpoint: fresh credentials of the role the grant names, in the
    JSON the SDKs' container provider reads; 403 for a grant this Nimbus did not make or a role that
    may no longer be assumed."""
    try:
        grant = storage.sessions.verify(authorization)
    except InvalidToken:
        return 403, json.dumps({"message": "invalid authorization token"}).encode()
    role = find_role(storage, grant["role"])
    if role is None or not trusts(role, grant["service"]):
        return 403, json.dumps({"message": f"{grant['service']} may not assume {grant['role']}"}).encode()
    issued = role_session(storage, role, grant["session"], SESSION_S)
    body = {
        "AccessKeyId": issued.claims.access_key_id,
        "SecretAccessKey": issued.secret_access_key,
        "Token": issued.session_token,
        "Expiration": issued.claims.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "LastUpdated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "RoleArn": grant["role"],
    }
    return 200, json.dumps(body).encode()
