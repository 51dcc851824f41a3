"""One request through the layers: find the operation, authenticate, parse, call, serialize."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import anyio
from botocore.model import OperationModel
from starlette.types import Receive

from nimbus.errors import AwsError, not_implemented
from nimbus.gateway import auth
from nimbus.gateway.auth.payload import STREAMING_SIGNED_EVENTS
from nimbus.gateway.authz.facts import request_facts
from nimbus.gateway.authz.signers import Signers
from nimbus.gateway.authz.step import Authorizer
from nimbus.gateway.body import ThreadBodyStream, read_body
from nimbus.gateway.catalog import Catalog
from nimbus.gateway.integrity import verify_body_integrity
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.parsers import parse_request, query_params
from nimbus.protocol.router import match_operation
from nimbus.protocol.serializers import serialize_response
from nimbus.services.registry import Caller, Operation, RequestContext, Service, WithStatus
from nimbus.storage import Storage
from nimbus.storage.streams import BodyStream

MAX_BODY = 64 * 1024 * 1024  # non-streaming requests (a 5 MB image as base64 JSON fits with room)
MAX_HEADER_SECTION = 8 * 1024
SMALL_BODY = 1024 * 1024  # S3's limit on the request header section
_SHA256 = "x-amz-content-sha256"
ANONYMOUS = Caller("", "", "", "anonymous")  # of an operation AWS serves unsigned


@dataclass
class Target:
    """What the request addresses, filled in as the pipeline learns it (for errors and logs)."""

    service: Service | None = None
    operation: OperationModel | None = None
    body: ThreadBodyStream | None = None  # a streamed body, which the gateway drains if the service did not
    caller: Caller | None = None  # who signed it, once verified


async def dispatch(
    request: HttpRequest,
    receive: Receive,
    catalog: Catalog,
    storage: Storage,
    request_id: str,
    target: Target,
    authorizer: Authorizer,
) -> HttpResponse:
    scope = auth.read_scope(request)
    routed = path_style(request) if scope is None or scope.signing_name == "s3" else request
    target.service = catalog.resolve(scope.signing_name if scope else None, routed)
    if _header_section_size(request) > MAX_HEADER_SECTION:
        raise AwsError(
            "RequestHeaderSectionTooLarge",
            f"Your request header section exceeds the maximum allowed size ({MAX_HEADER_SECTION} bytes).",
        )
    if target.service.model.protocol == "query":  # the Action may be in the form body
        routed.body = request.body = await read_body(receive, MAX_BODY)
    target.operation, labels = _find_operation(target.service, routed)
    streaming = _has_streaming_payload(target.operation)
    if not streaming and target.service.model.protocol != "query":
        routed.body = request.body = await read_body(receive, MAX_BODY)
    function = target.service.operations.get(target.operation.name)
    if function is None:
        raise not_implemented(target.service.name, target.operation.name)
    signers = Signers(storage, request, target.service.model.protocol)
    credential = None
    if scope is None:
        unsigned = target.operation.name in target.service.unsigned_operations
        if not unsigned and target.service.name != "s3":  # S3 serves anonymous callers a policy allows
            raise _unsigned(target.service.model.protocol)
        if streaming:
            request.stream = await _body_stream(request, receive, target)
        caller = ANONYMOUS
    else:
        if (
            target.operation.has_event_stream_input
            and request.headers.get(_SHA256) != STREAMING_SIGNED_EVENTS
        ):
            raise AwsError(
                target.service.validation_error,
                f"The events of {target.operation.name} must be signed: "
                f"{_SHA256} must be {STREAMING_SIGNED_EVENTS}.",
            )
        if streaming:
            request.stream = await _body_stream(request, receive, target)
        signed = routed if scope.method.endswith("v2") else request
        credential = auth.verify(
            signed, scope, signers.lookup, datetime.now(UTC), target.service.model.protocol
        )
        routed.body, routed.stream = signed.body, signed.stream  # verify may have decoded aws-chunked bodies
        caller = Caller(credential.access_key_id, credential.account_id, credential.user_id, credential.arn)
    target.caller = caller
    if not streaming:
        operation = target.operation
        verify_body_integrity(routed, _checksum_required(operation), _has_body_checksum(operation))
    parsed = parse_request(
        target.operation, routed, labels, target.service.validation_error, target.service.unchecked_patterns
    )
    ctx = RequestContext(
        request_id=request_id,
        region=scope.region if scope else "",
        caller=caller,
        storage=storage,
        received_at=datetime.now(UTC),
        host=request.headers.get("host", ""),
        session_token=signers.token,
    )
    service, name = target.service, target.operation.name

    def authorize() -> frozenset[str]:
        if scope is None and name in service.unsigned_operations:
            # AWS serves these to anyone (SNS's ConfirmSubscription: its token is the secret)
            return frozenset()
        identity = authorizer.identity(credential, signers.session, signers.token)
        return authorizer.authorize(service, name, parsed, request_facts(routed, scope, ctx.region), identity)

    response = await anyio.to_thread.run_sync(_invoke, function, ctx, parsed, target.operation, authorize)
    authorizer.after(service, name)
    return response


def _invoke(
    function: Operation,
    ctx: RequestContext,
    parsed: dict[str, Any],
    operation: OperationModel,
    authorize: Callable[[], frozenset[str]],
) -> HttpResponse:
    """Runs in a worker thread: the authorization step, the operation, its serialization, and the
    reading of a streamed payload that is small anyway (one thread hop per request, not one per chunk)."""
    denied = authorize()
    if denied:  # items of the request the caller may not act on: the operation reports them
        ctx = replace(ctx, denied_resources=denied)
    result: Any = function(ctx, parsed)
    status = None
    if isinstance(result, WithStatus):
        status, result = result.status, result.output
    response = serialize_response(operation, result or {}, ctx.request_id, status)
    length = response.headers.get("Content-Length", "")
    if not isinstance(response.body, bytes) and length.isdigit() and int(length) <= SMALL_BODY:
        chunks = response.body
        response.body = b"".join(chunks)
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return response


async def _body_stream(request: HttpRequest, receive: Receive, target: Target) -> BodyStream:
    """Small bodies are read at once (no thread hop per chunk); large ones stream to the worker thread."""
    length = request.headers.get("content-length", "")
    if target.operation is not None and target.operation.has_event_stream_input:
        return ThreadBodyStream(receive)  # read as events arrive, while the response streams out
    if target.service is not None and target.service.name != "s3":
        # Other services' payloads are a few MB (an utterance, an inference request) and are
        # signed as a whole, so the signature check needs all of it.
        request.body = await read_body(receive, MAX_BODY)
        return io.BytesIO(request.body)
    if length.isdigit() and int(length) <= SMALL_BODY:
        return io.BytesIO(await read_body(receive, SMALL_BODY))
    target.body = ThreadBodyStream(receive)
    return target.body


def _unsigned(protocol: str) -> AwsError:
    message = "The request is not signed. Sign it with a Nimbus access key (see `nimbus env`)."
    codes = {"rest-xml": "AccessDenied", "query": "MissingAuthenticationToken"}
    return AwsError(codes.get(protocol, "MissingAuthenticationTokenException"), message, 403)


def _find_operation(service: Service, request: HttpRequest) -> tuple[OperationModel, dict[str, str]]:
    model = service.model
    if model.protocol == "json":
        name = request.headers.get("x-amz-target", "").rsplit(".", 1)[-1]
        if name not in model.operation_names:
            raise AwsError("UnknownOperationException", f"{service.name} has no operation '{name}'.")
        return model.operation_model(name), {}
    if model.protocol == "query":
        action = query_params(request).get("Action", "")
        if action not in model.operation_names:
            raise AwsError("InvalidAction", f"The action '{action}' is not valid for {service.name}.")
        return model.operation_model(action), {}
    match = match_operation(model, request)
    if match is None:
        if service.name == "s3":
            raise AwsError(
                "MethodNotAllowed", "The specified method is not allowed against this resource.", 405
            )
        raise AwsError(
            "UnknownOperationException",
            f"{service.name} has no operation for {request.method} {request.path}.",
            404,
        )
    return match.operation, match.labels


def _checksum_required(operation: OperationModel) -> bool:
    return bool(operation.http_checksum_required or operation.http_checksum.get("requestChecksumRequired"))


def _has_body_checksum(operation: OperationModel) -> bool:
    """Whether the operation's x-amz-checksum-* headers describe its body (botocore's httpChecksum)."""
    return _checksum_required(operation) or "requestAlgorithmMember" in operation.http_checksum


def _has_streaming_payload(operation: OperationModel) -> bool:
    if operation.has_event_stream_input:
        return True
    shape = operation.input_shape
    payload = shape.serialization.get("payload") if shape is not None else None
    return payload is not None and bool(shape.members[payload].serialization.get("streaming"))


def _header_section_size(request: HttpRequest) -> int:
    return sum(len(name) + len(value) + 4 for name, value in request.headers.items())


def path_style(request: HttpRequest) -> HttpRequest:
    """Rewrites a virtual-hosted S3 request (``bucket.localhost:4566``) to path style."""
    host = request.headers.get("host", "").rsplit(":", 1)[0]
    bucket, _, rest = host.partition(".")
    if not rest or not (rest == "localhost" or rest.startswith("s3.") or rest.endswith(".localhost")):
        return request
    return replace(request, path=f"/{bucket}{request.path if request.path != '/' else ''}")
