"""S3 browser-form uploads (POST Object): a signed policy in a multipart form instead of a signed
request. botocore has no operation for it, so the form becomes a PutObject call here."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

import anyio
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope

from nimbus.errors import AwsError
from nimbus.gateway import auth
from nimbus.gateway.authz.facts import request_facts
from nimbus.gateway.authz.signers import Signers
from nimbus.gateway.authz.step import Authorizer
from nimbus.gateway.catalog import Catalog
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.serializers import S3_NAMESPACE, XML_DECLARATION
from nimbus.services.registry import Caller, RequestContext
from nimbus.storage import Storage
from nimbus.storage.checksums import ALGORITHMS

_FIELD_HEADERS = {
    "content-type": "ContentType",
    "content-encoding": "ContentEncoding",
    "content-disposition": "ContentDisposition",
    "cache-control": "CacheControl",
}
MAX_FIELDS_BYTES = 20 * 1024  # S3's limit on the form fields before the file
MAX_PARTS = 200
SUCCESS_STATUSES = {"200": 200, "201": 201, "204": 204}


def is_post_upload(request: HttpRequest) -> bool:
    content_type = request.headers.get("content-type", "")
    return (
        request.method == "POST"
        and content_type.startswith("multipart/form-data")
        and "authorization" not in request.headers
        and request.query_string == ""
    )


async def handle_post_upload(
    request: HttpRequest,
    scope: Scope,
    receive: Receive,
    catalog: Catalog,
    storage: Storage,
    request_id: str,
    authorizer: Authorizer,
) -> HttpResponse:
    segments = [segment for segment in request.path_segments if segment]
    if len(segments) != 1:
        raise AwsError("MethodNotAllowed", "POST uploads go to the bucket's URL.", 405)
    bucket = segments[0]
    form = await _read_form(scope, receive)
    try:
        fields, file = _form_fields(form)
        fields["bucket"] = bucket
        if "key" not in fields:
            raise AwsError(
                "InvalidArgument",
                "Bucket POST must contain a field named 'key'.",
                fields={"ArgumentName": "key"},
            )
        fields["key"] = fields["key"].replace("${filename}", file.filename or "")
        signers = Signers(storage, request, "rest-xml")
        credential, policy = auth.verify_post_policy(fields, signers.lookup, datetime.now(UTC))
        auth.check_post_policy_conditions(policy, fields, file.size or 0)
        s3 = catalog.services["s3"]
        put_object = s3.operations["PutObject"]
        put_input = _put_object_input(bucket, fields, file)
        facts = request_facts(request, None, "us-east-1", method="post")
        identity = authorizer.identity(credential, None, "")
        await anyio.to_thread.run_sync(authorizer.authorize, s3, "PutObject", put_input, facts, identity)
        ctx = RequestContext(
            request_id=request_id,
            region="us-east-1",
            caller=Caller(
                credential.access_key_id, credential.account_id, credential.user_id, credential.arn
            ),
            storage=storage,
            received_at=datetime.now(UTC),
            host=request.headers.get("host", ""),
        )
        output = await anyio.to_thread.run_sync(put_object, ctx, put_input)
    finally:
        await form.close()
    return _success_response(bucket, fields, output.get("ETag", ""), ctx.host)


async def _read_form(scope: Scope, receive: Receive) -> FormData:
    try:
        return await Request(scope, receive).form(max_files=MAX_PARTS, max_fields=MAX_PARTS)
    except (MultiPartException, HTTPException) as error:
        detail = getattr(error, "message", None) or getattr(error, "detail", "")
        raise _malformed(
            f"The body of your POST request is not well-formed multipart/form-data: {detail}"
        ) from None
    except ClientDisconnect:
        raise AwsError(
            "IncompleteBody", "The client closed the connection before sending the whole body."
        ) from None


def _form_fields(form: FormData) -> tuple[dict[str, str], UploadFile]:
    """The fields before the file (S3 ignores those after it), by lower-case name, and the file.
    A field may come as a part with a filename (what `requests`' ``files=`` sends): its content is
    its value."""
    fields: dict[str, str] = {}
    size = 0
    for name, value in form.multi_items():
        if name.lower() == "file":
            if not isinstance(value, UploadFile):
                break
            return fields, value
        text = _field_text(value)
        size += len(name) + len(text.encode())
        if size > MAX_FIELDS_BYTES:
            raise AwsError(
                "MaxPostPreDataLengthExceeded",
                "Your POST request fields preceding the upload file were too large.",
                400,
            )
        fields[name.lower()] = text
    raise AwsError(
        "InvalidArgument",
        "POST requires exactly one file upload per request.",
        fields={"ArgumentName": "file"},
    )


def _field_text(value: str | UploadFile) -> str:
    if isinstance(value, str):
        return value
    data = value.file.read(MAX_FIELDS_BYTES + 1)
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise _malformed(f"The form field {value.filename or ''!r} is not UTF-8 text.") from None


def _malformed(message: str) -> AwsError:
    return AwsError("MalformedPOSTRequest", message, 400)


def _put_object_input(bucket: str, fields: dict[str, str], file: UploadFile) -> dict[str, Any]:
    request: dict[str, Any] = {"Bucket": bucket, "Key": fields["key"], "Body": file.file}
    for field, member in _FIELD_HEADERS.items():
        if field in fields:
            request[member] = fields[field]
    if "expires" in fields:
        request["Expires"] = _http_date(fields["expires"])
    for algorithm in ALGORITHMS:
        if (value := fields.get(f"x-amz-checksum-{algorithm.lower()}")) is not None:
            request[f"Checksum{algorithm}"] = value
    metadata = {
        name[len("x-amz-meta-") :]: value for name, value in fields.items() if name.startswith("x-amz-meta-")
    }
    if metadata:
        request["Metadata"] = metadata
    return request


def _http_date(text: str) -> datetime:
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError):
        raise AwsError(
            "InvalidArgument", f"Expires must be an HTTP date: {text!r}", fields={"ArgumentName": "Expires"}
        ) from None


def _success_response(bucket: str, fields: dict[str, str], etag: str, host: str) -> HttpResponse:
    key = fields["key"]
    if "success_action_redirect" in fields:
        separator = "&" if "?" in fields["success_action_redirect"] else "?"
        query = urlencode({"bucket": bucket, "key": key, "etag": etag})
        return HttpResponse(303, {"Location": f"{fields['success_action_redirect']}{separator}{query}"})
    # as S3: a value other than 200 or 201 answers 204
    status = SUCCESS_STATUSES.get(fields.get("success_action_status", ""), 204)
    headers = {"ETag": etag, "Location": f"http://{host}/{bucket}/{quote(key)}"}
    if status != 201:
        return HttpResponse(status, headers)
    body = (
        f'{XML_DECLARATION}<PostResponse xmlns="{S3_NAMESPACE}">'
        f"<Location>{escape(headers['Location'])}</Location>"
        f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><ETag>{escape(etag)}</ETag></PostResponse>"
    )
    return HttpResponse(201, {**headers, "Content-Type": "application/xml"}, body.encode())
