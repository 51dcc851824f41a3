"""Requests to input shapes, for every protocol Nimbus speaks: json, rest-json, rest-xml, query.

The result is a dict of botocore member names holding Python values (int, bool, aware
datetimes, bytes), validated against the input shape; a streaming payload stays a stream.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from botocore.model import OperationModel, Shape

from nimbus.errors import AwsError
from nimbus.protocol.eventstream import read_events
from nimbus.protocol.http import HttpRequest
from nimbus.protocol.json_codec import JsonShapeError, from_json
from nimbus.protocol.query_codec import from_query
from nimbus.protocol.validate import describe, validation_errors
from nimbus.protocol.values import ISO8601, RFC822, decode_blob, parse_scalar
from nimbus.protocol.xml_codec import XmlShapeError, from_xml, parse_xml


def parse_request(
    operation: OperationModel,
    request: HttpRequest,
    labels: dict[str, str],
    validation_error: str,
    unchecked_patterns: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    protocol = operation.service_model.protocol
    try:
        if protocol == "json":
            parsed = _json_body(shape, request.body)
        elif protocol == "query":
            parsed = from_query(shape, query_params(request)) or {}
        else:
            parsed = _rest(shape, request, labels, protocol)
    except XmlShapeError as error:
        raise AwsError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate "
            f"against our published schema ({error}).",
        ) from None
    except JsonShapeError as error:
        raise AwsError("SerializationException", str(error)) from None
    except ValueError as error:
        raise AwsError(validation_error, str(error)) from None
    _check_xml_payload(shape, parsed, protocol)
    errors = validation_errors(shape, parsed, unchecked_patterns)
    if errors:
        raise AwsError(validation_error, describe(errors))
    if operation.has_event_stream_input and request.stream is not None:
        name = shape.serialization["payload"]  # events are parsed as the service reads them
        parsed[name] = read_events(shape.members[name], request.stream.read, validation_error)
    return parsed


def _check_xml_payload(shape: Shape, parsed: dict[str, Any], protocol: str) -> None:
    """S3 reports an XML body that breaks its schema (a missing <Key>...) as MalformedXML."""
    payload_name = shape.serialization.get("payload")
    if protocol != "rest-xml" or payload_name is None or not isinstance(parsed.get(payload_name), dict):
        return
    errors = validation_errors(shape.members[payload_name], parsed[payload_name])
    if errors:
        raise AwsError(
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published "
            f"schema ({describe(errors)}).",
        )


def query_params(request: HttpRequest) -> dict[str, str]:
    """The query protocol's parameters: the form body merged over the query string."""
    params = {name: values[0] for name, values in request.query.items()}
    if request.body:
        params.update(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _json_body(shape: Shape, body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise JsonShapeError("", f"Request body is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise JsonShapeError("", "Request body must be a JSON object")
    return from_json(shape, document)


def _rest(shape: Shape, request: HttpRequest, labels: dict[str, str], protocol: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    payload_name = shape.serialization.get("payload")
    body_members = False
    bound_query: set[str] = set()
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in labels:
                parsed[name] = parse_scalar(member, labels[wire_name], ISO8601)
        elif location == "querystring":
            if member.type_name != "map":
                bound_query.add(wire_name)
            value = _query_member(member, request, wire_name)
            if value is not None:
                parsed[name] = value
        elif location == "header":
            text = request.headers.get(wire_name)
            if text is not None:
                parsed[name] = _header_member(member, text)
        elif location == "headers":
            prefix = wire_name.lower()
            found = {
                key[len(prefix) :]: request.headers[key] for key in request.headers if key.startswith(prefix)
            }
            if found:
                parsed[name] = found
        elif name != payload_name:
            body_members = True
    for name, member in shape.members.items():
        if member.serialization.get("location") == "querystring" and member.type_name == "map":
            extra = {key: values[0] for key, values in request.query.items() if key not in bound_query}
            if extra:
                parsed[name] = extra
    if payload_name:
        value = _payload_member(shape.members[payload_name], request, protocol)
        if value is not None:
            parsed[payload_name] = value
    elif body_members and request.body.strip():
        parsed.update(_body_document(shape, request.body, protocol))
    return parsed


def _query_member(member: Shape, request: HttpRequest, wire_name: str) -> Any:
    values = request.query.get(wire_name)
    if values is None:
        return None
    if member.type_name == "list":
        return [parse_scalar(member.member, value, ISO8601) for value in values]
    return parse_scalar(member, values[0], ISO8601)


def _header_member(member: Shape, text: str) -> Any:
    if member.serialization.get("jsonvalue"):
        return json.loads(decode_blob(text))
    if member.type_name == "list":
        return [parse_scalar(member.member, part.strip(), RFC822) for part in text.split(",") if part.strip()]
    if member.type_name == "blob":
        return text.encode()
    if "enum" in member.metadata:
        return _enum_spelling(member.metadata["enum"], text)
    return parse_scalar(member, text, RFC822)


def _enum_spelling(values: list[str], text: str) -> str:
    """A header's enum value in any case, as S3 takes it (the AWS SDK for C++, under pyarrow and
    others, sends ``x-amz-checksum-mode: enabled``)."""
    return next((value for value in values if value.lower() == text.lower()), text)


def _payload_member(member: Shape, request: HttpRequest, protocol: str) -> Any:
    if member.serialization.get("eventstream"):
        return request.stream
    if member.type_name in ("blob", "string"):
        if request.stream is not None:
            return request.stream
        return request.body if member.type_name == "blob" else request.body.decode("utf-8")
    if not request.body.strip():
        return None
    return _body_document(member, request.body, protocol)


def _body_document(shape: Shape, body: bytes, protocol: str) -> dict[str, Any]:
    if protocol == "rest-xml":
        return from_xml(shape, parse_xml(body))
    return _json_body(shape, body)
