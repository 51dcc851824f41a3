"""What the SageMaker Python SDK v2 tests share: a notebook's session against Nimbus (AWS_* in the
environment, nothing else) with the SDK's clock sped up, and the caller's account."""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3
import pytest
import sagemaker
from conftest import NimbusServer
from roles import execution_role

SPEEDUP = 50.0
NO_TELEMETRY = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


class FastClock:
    """The SDK's clock, fifty times faster. The SDK waits fixed intervals (5 s before each describe,
    10 s between log reads, 30 s between endpoint checks); every call still goes to Nimbus."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def time(self) -> float:
        return time.time() + self.skipped

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / SPEEDUP)
        self.skipped += seconds - seconds / SPEEDUP


def notebook_session(nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A notebook's session: AWS_* in the environment, the SDK built on a fresh boto3 session, a new
    default bucket."""
    for name, value in nimbus.env().items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(sagemaker.session, "time", FastClock())
    boto_session = boto3.Session()
    bucket = f"sdk-{uuid.uuid4().hex[:12]}"
    boto_session.client("s3").create_bucket(Bucket=bucket)
    # the SDK would send telemetry to an AWS address outright; a notebook on Nimbus opts out
    session = sagemaker.Session(
        boto_session=boto_session, default_bucket=bucket, sagemaker_config=NO_TELEMETRY
    )
    # the SDK validates its config against a large JSON schema at every lookup (dozens of times a
    # call, 0.2 s each); the Session validated this constant config once, and it never changes
    monkeypatch.setattr(sagemaker.utils, "validate_sagemaker_config", _validated_once)
    return session


def _validated_once(config: dict[str, Any]) -> None:
    """The SDK's per-lookup config validation, skipped: the config is the validated constant."""


def account(session: Any) -> str:
    """The caller's account, from STS. Not ``session.account_id()``: it names the AWS STS endpoint
    outright, so AWS_ENDPOINT_URL cannot redirect it."""
    return session.boto_session.client("sts").get_caller_identity()["Account"]


def role(session: Any) -> str:
    return execution_role(session.sagemaker_client)
