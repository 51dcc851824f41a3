"""Who calls the registry: ``docker login`` sends the ECR token's password with Basic authentication
(user ``AWS``); the password names the access key (and STS session) that asked for it, and the
request is authorized as that caller, by the same authorization step as every API call."""

from __future__ import annotations

import base64
import binascii

from nimbus.errors import AwsError
from nimbus.gateway.authz.facts import request_facts
from nimbus.gateway.authz.signers import Signers
from nimbus.gateway.authz.step import Authorizer
from nimbus.gateway.registry.errors import RegistryError
from nimbus.protocol.http import HttpRequest
from nimbus.services.ecr.address import registry_endpoint
from nimbus.services.ecr.login import USER, RegistryGrant, read_password
from nimbus.services.iam.identities import Identity
from nimbus.services.registry import Service
from nimbus.storage import Storage


def challenge() -> dict[str, str]:
    return {"WWW-Authenticate": f'Basic realm="{registry_endpoint()}",service="ecr.amazonaws.com"'}


def unauthorized(message: str) -> RegistryError:
    return RegistryError("UNAUTHORIZED", message, challenge())


def caller(request: HttpRequest, storage: Storage, authorizer: Authorizer) -> tuple[RegistryGrant, Identity]:
    """The grant and identity behind the request's Basic credentials; UNAUTHORIZED without valid ones."""
    scheme, _, encoded = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized(
            "authentication required: docker login with the password of `aws ecr get-login-password`"
        )
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized("malformed Basic credentials") from None
    grant = read_password(storage, password) if user == USER else None
    if grant is None:
        raise unauthorized("the registry password is not valid or has expired: run docker login again")
    signers = Signers(storage, request, "json")
    signers.token = grant.session_token
    try:
        credential = signers.lookup(grant.access_key_id)
    except AwsError as error:
        raise unauthorized(
            f"the credentials behind the registry password are no longer valid: {error.message}"
        ) from None
    if credential is None:
        raise unauthorized("the access key behind the registry password is no longer active")
    return grant, authorizer.identity(credential, signers.session, signers.token)


def authorize(
    authorizer: Authorizer,
    ecr: Service,
    operation: str,
    repository: str,
    request: HttpRequest,
    grant: RegistryGrant,
    identity: Identity,
) -> None:
    """``operation``'s IAM action on the repository, with its repository policy; DENIED if refused."""
    parsed = {"repositoryName": repository} if repository else {}
    try:
        authorizer.authorize(ecr, operation, parsed, request_facts(request, None, grant.region), identity)
    except AwsError as error:
        raise RegistryError("DENIED", error.message) from None
