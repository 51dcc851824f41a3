"""What Nimbus's own signed endpoints (``/_nimbus/...``, for what AWS's APIs have no place for)
share: the caller's SigV4 signature checked as any AWS request's, and the path matched to a route."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from nimbus.errors import AwsError
from nimbus.gateway import auth
from nimbus.gateway.authz.signers import Signers
from nimbus.protocol.http import HttpRequest
from nimbus.storage import Storage
from nimbus.storage.credentials import Credential

Routes = dict[tuple[str, re.Pattern[str]], str]


@dataclass(frozen=True)
class SignedCaller:
    scope: auth.SigningScope
    signers: Signers
    credential: Credential


def signed_caller(request: HttpRequest, storage: Storage) -> SignedCaller:
    """The verified signer of ``request`` (whose body is read); AWS's signature errors otherwise."""
    scope = auth.read_scope(request)
    if scope is None:
        raise AwsError("AccessDenied", "Sign the request with a Nimbus access key (see `nimbus env`).", 403)
    signers = Signers(storage, request, "json")
    credential = auth.verify(request, scope, signers.lookup, datetime.now(UTC), "json")
    return SignedCaller(scope, signers, credential)


def match_route(routes: Routes, request: HttpRequest, prefix: str, what: str) -> tuple[str, dict[str, str]]:
    """The name of the route the method and the path after ``prefix`` match, and the path's parts;
    NotFound (404) for any other."""
    rest = request.path.removeprefix(prefix)
    for (method, pattern), name in routes.items():
        matched = pattern.fullmatch(rest)
        if matched and request.method == method:
            return name, matched.groupdict()
    raise AwsError("NotFound", f"Nimbus has no {what} path {request.method} {request.path}.", 404)
