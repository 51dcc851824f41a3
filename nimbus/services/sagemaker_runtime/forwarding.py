"""Invocations between nodes: a node that does not serve an endpoint forwards its invocations to the
node that does (services/sagemaker/endpoint_owners.py), which answers with its workers.

The receiving node has authenticated and authorized the caller; the serving node trusts the call
because it carries a grant signed with the install's shared key (storage.sessions.sign, the key every
node reads from the shared data directory) naming the endpoint, the variant, the container's headers
and the body's SHA-256, valid for a minute. ``POST /_nimbus/sagemaker/invocations`` with the grant in
``X-Nimbus-Grant`` and the body as is; the answer is the container's status, content type, custom
attributes and body, with the variant, model time and instance count in headers, or, for an error, its
code in ``X-Nimbus-Error`` and its message and fields as JSON. Connections are kept alive per node.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import ssl
import time
import urllib.parse
from collections import defaultdict, deque
from pathlib import Path

from nimbus.errors import AwsError
from nimbus.services.leases import lease_node
from nimbus.services.sagemaker.endpoint_owners import serving_node
from nimbus.services.sagemaker.workers import Response
from nimbus.services.sagemaker_runtime.invocation import INVOCATION_TIMEOUT_S, Invocation, Served, serve_here
from nimbus.storage import Storage
from nimbus.storage.session_tokens import InvalidToken

FORWARDED_INVOCATIONS = "/_nimbus/sagemaker/invocations"
MAX_BODY = 6 * 1024 * 1024  # InvokeEndpoint's own limit: the receiving node checked it
# header names in lower case, as the answer's are read
GRANT = "x-nimbus-grant"
VARIANT = "x-nimbus-variant"
MODEL_SECONDS = "x-nimbus-model-seconds"
INSTANCES = "x-nimbus-instances"
ERROR = "x-nimbus-error"
CUSTOM_ATTRIBUTES = "x-amzn-sagemaker-custom-attributes"
PURPOSE = "sagemaker:InvokeEndpoint"
GRANT_SECONDS = 60
# the serving node answers within its own invocation timeout (a ModelError past it)
FORWARD_TIMEOUT_S = INVOCATION_TIMEOUT_S + 10
_idle: defaultdict[str, deque[http.client.HTTPConnection]] = defaultdict(deque)  # by node address
_tls: dict[str, ssl.SSLContext] = {}  # "context": what verifies the nodes' certificates


def forward(storage: Storage, address: str, call: Invocation) -> Served:
    """The invocation answered by the node at ``address``, exactly as that node answers it locally:
    its container's answer, or the AwsError it raised."""
    grant = storage.sessions.sign(
        {
            "purpose": PURPOSE,
            "endpoint": list(call.key),
            "variant": call.target_variant,
            "headers": call.headers,
            "sha256": hashlib.sha256(call.body).hexdigest(),
            "expires": time.time() + GRANT_SECONDS,
        }
    )
    try:
        status, headers, body = _post(address, call.body, grant)
    except OSError as error:
        raise AwsError(
            "ServiceUnavailable",
            f"The Nimbus node serving endpoint {call.key[2]} ({address}) does not answer ({error}); if it "
            "stopped, another node takes the endpoint over within NIMBUS_LEASE_SECONDS.",
            503,
        ) from None
    if ERROR in headers:
        error = json.loads(body)
        raise AwsError(headers[ERROR], error["message"], status, fields=error["fields"])
    answer = Response(
        status,
        headers.get("content-type", "application/octet-stream"),
        headers.get(CUSTOM_ATTRIBUTES),
        body,
    )
    return Served(
        headers[VARIANT],
        answer,
        float(headers[MODEL_SECONDS]),
        int(headers[INSTANCES]),
    )


def _post(address: str, body: bytes, grant: str) -> tuple[int, dict[str, str], bytes]:
    """POST over a kept-alive connection to the node; a connection the node closed while idle is
    replaced once (the request never reached it)."""
    idle = _idle[address]
    for attempt in range(2):
        try:
            connection = idle.pop()
        except IndexError:
            connection = _connect(address)
            attempt = 1  # a fresh connection's failure is the node's
        try:
            connection.request("POST", FORWARDED_INVOCATIONS, body=body, headers={GRANT: grant})
            response = connection.getresponse()
            answer = (
                response.status,
                {name: value for name, value in response.getheaders()},
                response.read(),
            )
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            connection.close()
            if attempt:
                raise
            continue
        except BaseException:
            connection.close()
            raise
        idle.append(connection)
        return answer
    raise AssertionError("unreachable")


def advertise(storage: Storage, address: str, ca_bundle: Path | None) -> None:
    """At start: other nodes forward invocations to this node at ``address``; this node verifies the
    nodes it forwards to over HTTPS with the system's CAs and ``ca_bundle`` (Nimbus's own CA, or the
    certificate the nodes serve)."""
    context = ssl.create_default_context()
    if ca_bundle is not None:
        context.load_verify_locations(ca_bundle)
    _tls["context"] = context
    lease_node(storage).advertise(address)


def _connect(address: str) -> http.client.HTTPConnection:
    url = urllib.parse.urlsplit(address)
    if url.scheme != "https":
        return http.client.HTTPConnection(url.hostname or "", url.port or 80, timeout=FORWARD_TIMEOUT_S)
    return http.client.HTTPSConnection(
        url.hostname or "", url.port or 443, timeout=FORWARD_TIMEOUT_S, context=_tls.get("context")
    )


def answer_forwarded(storage: Storage, grant: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """The serving node's side: the status, headers and body to answer a forwarded invocation with."""
    try:
        served = serve_here(storage, _granted(storage, grant, body))
    except AwsError as error:
        message = json.dumps({"message": error.message, "fields": error.fields}).encode()
        return error.status, {ERROR: error.code, "Content-Type": "application/json"}, message
    headers = {
        "Content-Type": served.answer.content_type,
        VARIANT: served.variant,
        MODEL_SECONDS: repr(served.model_seconds),
        INSTANCES: str(served.instances),
    }
    if served.answer.custom_attributes is not None:
        headers[CUSTOM_ATTRIBUTES] = served.answer.custom_attributes
    return served.answer.status, headers, served.answer.body


def _granted(storage: Storage, token: str, body: bytes) -> Invocation:
    """The invocation a valid grant names; AccessDenied for anything else. A node that no longer serves
    the endpoint (another took it over since) answers ServiceUnavailable: calls are forwarded once."""
    try:
        grant = storage.sessions.verify(token)
    except InvalidToken:
        grant = {}
    if (
        grant.get("purpose") != PURPOSE
        or grant.get("expires", 0) < time.time()
        or grant.get("sha256") != hashlib.sha256(body).hexdigest()
    ):
        raise AwsError("AccessDenied", "Forwarded invocations need a grant of a node of this Nimbus.", 403)
    call = Invocation(tuple(grant["endpoint"]), grant["variant"], body, grant["headers"])  # type: ignore[arg-type]
    if serving_node(storage, call.key) is not None:
        raise AwsError(
            "ServiceUnavailable", "The endpoint moved to another Nimbus node meanwhile; try again.", 503
        )
    return call
