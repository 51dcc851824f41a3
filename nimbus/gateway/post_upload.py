"""S3 browser-form uploads (POST Object): a signed policy in a multipart form instead of a signed
request. botocore has no operation for it, so the form becomes a PutObject call here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import anyio
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import Receive, Scope

from nimbus.errors import AwsError
from nimbus.gateway import auth
from nimbus.gateway.catalog import Catalog
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.protocol.serializers import S3_NAMESPACE, XML_DECLARATION
from nimbus.services.registry import Caller, RequestContext
from nimbus.storage import Storage

_FIELD_HEADERS = {
    "content-type": "ContentType",
    "content-encoding": "ContentEncoding",
    "content-disposition": "ContentDisposition",
    "cache-control": "CacheControl",
    "expires": "Expires",
}


def is_post_upload(request: HttpRequest) -> bool:
    content_type = request.headers.get("content-type", "")
    return (
        request.method == "POST"
        and content_type.startswith("multipart/form-data")
        and "authorization" not in request.headers
        and request.query_string == ""
    )


async def handle_post_upload(
    request: HttpRequest, scope: Scope, receive: Receive, catalog: Catalog, storage: Storage, request_id: str
) -> HttpResponse:
    segments = [segment for segment in request.path_segments if segment]
    if len(segments) != 1:
        raise AwsError("MethodNotAllowed", "POST uploads go to the bucket's URL.", 405)
    bucket = segments[0]
    form = await Request(scope, receive).form(max_files=1, max_fields=100)
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise AwsError(
                "InvalidArgument",
                "POST requires exactly one file upload per request.",
                fields={"ArgumentName": "file"},
            )
        fields = {name.lower(): value for name, value in form.items() if isinstance(value, str)}
        fields["bucket"] = bucket
        if "key" not in fields:
            raise AwsError(
                "InvalidArgument",
                "Bucket POST must contain a field named 'key'.",
                fields={"ArgumentName": "key"},
            )
        fields["key"] = fields["key"].replace("${filename}", file.filename or "")
        credential, policy = auth.verify_post_policy(fields, storage.credentials.lookup, datetime.now(UTC))
        auth.check_post_policy_conditions(policy, fields, file.size or 0)
        put_object = catalog.services["s3"].operations["PutObject"]
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
        output = await anyio.to_thread.run_sync(put_object, ctx, _put_object_input(bucket, fields, file))
    finally:
        await form.close()
    return _success_response(bucket, fields, output.get("ETag", ""), ctx.host)


def _put_object_input(bucket: str, fields: dict[str, str], file: UploadFile) -> dict[str, Any]:
    request: dict[str, Any] = {"Bucket": bucket, "Key": fields["key"], "Body": file.file}
    for field, member in _FIELD_HEADERS.items():
        if field in fields:
            request[member] = fields[field]
    metadata = {
        name[len("x-amz-meta-") :]: value for name, value in fields.items() if name.startswith("x-amz-meta-")
    }
    if metadata:
        request["Metadata"] = metadata
    return request


def _success_response(bucket: str, fields: dict[str, str], etag: str, host: str) -> HttpResponse:
    key = fields["key"]
    if "success_action_redirect" in fields:
        separator = "&" if "?" in fields["success_action_redirect"] else "?"
        query = urlencode({"bucket": bucket, "key": key, "etag": etag})
        return HttpResponse(303, {"Location": f"{fields['success_action_redirect']}{separator}{query}"})
    status = int(fields.get("success_action_status", "204"))
    headers = {"ETag": etag, "Location": f"http://{host}/{bucket}/{key}"}
    if status != 201:
        return HttpResponse(200 if status == 200 else 204, headers)
    body = (
        f'{XML_DECLARATION}<PostResponse xmlns="{S3_NAMESPACE}">'
        f"<Location>{escape(headers['Location'])}</Location>"
        f"<Bucket>{escape(bucket)}</Bucket><Key>{escape(key)}</Key><ETag>{escape(etag)}</ETag></PostResponse>"
    )
    return HttpResponse(201, {**headers, "Content-Type": "application/xml"}, body.encode())
