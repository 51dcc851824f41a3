"""Every operation Nimbus serves has an IAM action in the table (a new operation without one fails
here), and the gateway's authorization step allows it for a caller whose policy allows everything
and refuses it, in the service's own AccessDenied shape naming action and resource, for a caller
whose policy denies it: a generated table of every served operation, an allow and a deny case each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.utils import ArgumentGenerator

from nimbus.errors import AwsError
from nimbus.gateway.authz.actions import PER_ITEM_OPERATIONS, UNAUTHORIZED_OPERATIONS
from nimbus.gateway.authz.facts import RequestFacts
from nimbus.gateway.authz.step import Authorizer
from nimbus.gateway.catalog import default_catalog
from nimbus.policy import PolicySet, Principal, parse_policy
from nimbus.policy.principals import USER
from nimbus.protocol.http import Headers, HttpRequest
from nimbus.services.iam.identities import Identity
from nimbus.storage import Storage

CATALOG = default_catalog()
SERVED = sorted((service.name, name) for service in CATALOG.services.values() for name in service.operations)
ACCOUNT = "111122223333"


def _identity(effect: str) -> Identity:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": "*", "Resource": "*"}]}
    principal = Principal(USER, ACCOUNT, f"arn:aws:iam::{ACCOUNT}:user/tester", "AIDATESTER", "tester")
    return Identity(principal, PolicySet((parse_policy(document, "identity", f"{effect}-everything"),)))


@pytest.fixture(scope="module")
def authorizer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authorizer]:
    data: Path = tmp_path_factory.mktemp("authz")
    storage = Storage.open(data, f"sqlite:///{data / 'nimbus.db'}")
    yield Authorizer(storage, CATALOG.services)
    storage.close()


def _facts() -> RequestFacts:
    http = HttpRequest("POST", "/", "", Headers([("user-agent", "pytest")]), client="127.0.0.1")
    return RequestFacts(http, "header-v4", None, "us-east-1", datetime.now(UTC), "127.0.0.1", False)


def _skeleton(service_name: str, operation: str) -> dict[str, Any]:
    model = CATALOG.services[service_name].model.operation_model(operation)
    if model.input_shape is None:
        return {}
    return ArgumentGenerator(use_member_names=True).generate_skeleton(model.input_shape)


def test_every_served_operation_has_an_iam_action(authorizer: Authorizer) -> None:
    unmapped = [
        f"{service}.{operation}"
        for service, operation in SERVED
        if authorizer.table.for_operation(CATALOG.services[service].model.signing_name, operation) is None
    ]
    assert not unmapped, f"operations with no IAM action in the table: {unmapped}"


@pytest.mark.parametrize(("service_name", "operation"), SERVED, ids=[f"{s}.{o}" for s, o in SERVED])
def test_allowed_and_denied(authorizer: Authorizer, service_name: str, operation: str) -> None:
    service = CATALOG.services[service_name]
    request = _skeleton(service_name, operation)
    if (service_name, operation) == ("emr", "RunJobFlow"):  # allowed, then its skeleton's roles are refused
        with pytest.raises(AwsError, match=r"EMR service role .* is invalid"):
            authorizer.authorize(service, operation, request, _facts(), _identity("Allow"))
    elif (service_name, operation) != ("sts", "AssumeRole"):  # also needs the role's trust policy: e2e
        authorizer.authorize(service, operation, request, _facts(), _identity("Allow"))
    if (service.model.signing_name, operation) in UNAUTHORIZED_OPERATIONS:
        authorizer.authorize(service, operation, request, _facts(), _identity("Deny"))  # AWS never denies it
        return
    if (service.model.signing_name, operation) in PER_ITEM_OPERATIONS:  # each denied item is reported
        assert authorizer.authorize(service, operation, request, _facts(), _identity("Deny"))
        return
    with pytest.raises(AwsError) as denied:
        authorizer.authorize(service, operation, request, _facts(), _identity("Deny"))
    action = authorizer.table.for_operation(service.model.signing_name, operation)
    assert action is not None
    assert denied.value.code in ("AccessDenied", "AccessDeniedException", "AuthorizationError")
    assert denied.value.status in (400, 401, 403)
    assert f"perform: {action.prefix}:" in denied.value.message and "on resource: " in denied.value.message
    assert "explicit deny in an identity-based policy" in denied.value.message
