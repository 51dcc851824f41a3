"""Output shapes and errors to HTTP responses, each protocol in its own format."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from nimbus.errors import AwsError
from nimbus.protocol.eventstream import CONTENT_TYPE as EVENT_STREAM
from nimbus.protocol.eventstream import encode_events
from nimbus.protocol.http import HttpResponse
from nimbus.protocol.json_codec import to_json
from nimbus.protocol.values import RFC822, encode_blob, format_scalar
from nimbus.protocol.xml_codec import to_xml

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"  # not in botocore's S3 metadata
QUERY_ERROR_HEADER = "x-amzn-query-error"

# S3's response root elements, which botocore's model does not name.
_S3_ROOTS = {
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListBuckets": "ListAllMyBucketsResult",
    "ListObjectVersions": "ListVersionsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListParts": "ListPartsResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "DeleteObjects": "DeleteResult",
    "GetObjectTagging": "Tagging",
    "GetBucketTagging": "Tagging",
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketCors": "CORSConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetObjectAttributes": "GetObjectAttributesResponse",
}


def serialize_response(
    operation: OperationModel, output: dict[str, Any], request_id: str, status: int | None = None
) -> HttpResponse:
    protocol = operation.service_model.protocol
    shape = operation.output_shape
    response = HttpResponse(status=status or operation.http.get("responseCode", 200))
    if protocol == "json":
        response.headers["Content-Type"] = _json_content_type(operation.service_model)
        response.body = _json_bytes(to_json(shape, output) if shape is not None else {})
    elif protocol == "query":
        response.headers["Content-Type"] = "text/xml"
        response.body = _query_body(operation, output, request_id)
    else:
        _rest_response(operation, shape, output, response)
    return response


def serialize_error(
    service: ServiceModel, error: AwsError, request_id: str, *, head: bool = False
) -> HttpResponse:
    protocol = service.protocol
    response = HttpResponse(status=error.status, headers=dict(error.headers))
    if protocol in ("json", "rest-json"):
        response.headers["x-amzn-ErrorType"] = error.code
        response.headers["Content-Type"] = (
            _json_content_type(service) if protocol == "json" else "application/json"
        )
        document = {"__type": error.code, "message": error.message, **error.fields}
        if protocol == "rest-json":
            document = {"message": error.message, **error.fields}
        response.body = _json_bytes(document)
    elif protocol == "query":
        response.headers["Content-Type"] = "text/xml"
        fault = "Sender" if error.sender_fault else "Receiver"
        response.body = (
            f'<ErrorResponse xmlns="{_xml_namespace(service)}"><Error><Type>{fault}</Type>'
            f"{_xml_fields({'Code': query_error_code(error), 'Message': error.message, **error.fields})}"
            "</Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
    else:
        response.headers["Content-Type"] = "application/xml"
        fields = {"Code": error.code, "Message": error.message, **error.fields, "RequestId": request_id}
        response.body = (
            b""
            if head or error.status == 304
            else (f"{XML_DECLARATION}<Error>{_xml_fields(fields)}</Error>".encode())
        )
    return response


def query_error_code(error: AwsError) -> str:
    """A service that left the query protocol for JSON (SQS) names each error by its shape and sends
    its query-protocol code in ``x-amzn-query-error``; the query protocol answers with that code."""
    legacy = error.headers.get(QUERY_ERROR_HEADER, "").split(";")[0]
    return legacy or error.code


def _xml_fields(fields: dict[str, str]) -> str:
    return "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in fields.items())


def _json_content_type(service: ServiceModel) -> str:
    return f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _query_body(operation: OperationModel, output: dict[str, Any], request_id: str) -> bytes:
    namespace = _xml_namespace(operation.service_model)
    shape = operation.output_shape
    wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
    result = to_xml(shape, output, wrapper) if shape is not None and wrapper else ""
    name = operation.name
    return (
        f'<{name}Response xmlns="{namespace}">{result}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>"
    ).encode()


def _rest_response(
    operation: OperationModel, shape: Shape | None, output: dict[str, Any], response: HttpResponse
) -> None:
    if shape is None:
        return
    protocol = operation.service_model.protocol
    payload_name = shape.serialization.get("payload")
    body: dict[str, Any] = {}
    for name, member in shape.members.items():
        value = output.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "header":
            response.headers[wire_name] = _header_text(member, value)
        elif location == "headers":
            for key, item in value.items():
                response.headers[f"{wire_name}{key}"] = str(item)
        elif location == "statusCode":
            response.status = int(value)
        elif name != payload_name:
            body[name] = value
    if operation.name == "GetBucketLocation":
        _bucket_location(operation, output.get("LocationConstraint"), response)
    elif payload_name:
        _payload(operation, shape.members[payload_name], output.get(payload_name), response, protocol)
    elif protocol == "rest-json":
        response.headers["Content-Type"] = "application/json"
        response.body = _json_bytes(to_json(shape, body))
    elif body or operation.name in _S3_ROOTS:
        response.headers["Content-Type"] = "application/xml"
        response.body = _xml_document(
            operation, shape, body, _S3_ROOTS.get(operation.name, _root_name(shape))
        )


def _payload(
    operation: OperationModel, member: Shape, value: Any, response: HttpResponse, protocol: str
) -> None:
    if value is None:
        return
    if member.serialization.get("eventstream"):
        response.body = encode_events(member, value)
        response.headers["Content-Type"] = EVENT_STREAM
    elif member.type_name in ("blob", "string"):
        if isinstance(value, str):
            value = value.encode()
        response.body = value  # bytes, or an iterable of chunks for a streaming payload
        response.headers.setdefault("Content-Type", "application/octet-stream")
    elif protocol == "rest-json":
        response.headers["Content-Type"] = "application/json"
        response.body = _json_bytes(to_json(member, value))
    else:
        response.headers["Content-Type"] = "application/xml"
        response.body = _xml_document(operation, member, value, member.serialization.get("name", member.name))


def _bucket_location(operation: OperationModel, region: str | None, response: HttpResponse) -> None:
    # S3 answers with a bare <LocationConstraint> root holding the region (empty for us-east-1).
    namespace = _xml_namespace(operation.service_model)
    response.headers["Content-Type"] = "application/xml"
    root = f'<LocationConstraint xmlns="{namespace}">{escape(region or "")}</LocationConstraint>'
    response.body = (XML_DECLARATION + root).encode()


def _xml_document(operation: OperationModel, shape: Shape, value: dict[str, Any], root: str) -> bytes:
    return (XML_DECLARATION + to_xml(shape, value, root, _xml_namespace(operation.service_model))).encode()


def _xml_namespace(service: ServiceModel) -> str:
    namespace = service.metadata.get("xmlNamespace", S3_NAMESPACE)
    return namespace.get("uri", S3_NAMESPACE) if isinstance(namespace, dict) else namespace


def _root_name(shape: Shape) -> str:
    return shape.serialization.get("name") or shape.name.removesuffix("Output") + "Result"


def _header_text(member: Shape, value: Any) -> str:
    if member.serialization.get("jsonvalue"):
        return encode_blob(json.dumps(value, separators=(",", ":")))
    if member.type_name == "list":
        return ",".join(format_scalar(member.member, item, RFC822) for item in value)
    return format_scalar(member, value, RFC822)
