"""The protocol layer against botocore itself: what botocore's client serializers send, our
parsers read back exactly; what our serializers answer, botocore's response parsers read back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import pytest
from botocore import parsers, serialize
from botocore.model import OperationModel

from nimbus.errors import AwsError
from nimbus.protocol.http import Headers, HttpRequest
from nimbus.protocol.parsers import parse_request
from nimbus.protocol.router import match_operation
from nimbus.protocol.serializers import serialize_error, serialize_response
from nimbus.services.models import load_service_model

WHEN = datetime(2026, 11, 27, 7, 30, 15, tzinfo=UTC)


def _operation(service: str, name: str) -> OperationModel:
    return load_service_model(service).operation_model(name)


def _client_request(operation: OperationModel, params: dict[str, Any]) -> HttpRequest:
    sent = serialize.create_serializer(operation.service_model.protocol).serialize_to_request(
        params, operation
    )
    query = sent["query_string"]
    query_string = query if isinstance(query, str) else urlencode(query, doseq=True)
    path = urlsplit(sent["url_path"])
    if path.query:
        query_string = f"{path.query}&{query_string}" if query_string else path.query
    body = sent["body"]
    if isinstance(body, dict):
        body = urlencode(body).encode()
    return HttpRequest(
        sent["method"],
        path.path,
        query_string,
        Headers(sent["headers"].items()),
        body=body if isinstance(body, bytes) else (body or "").encode(),
    )


def _round_trip_input(operation: OperationModel, params: dict[str, Any]) -> dict[str, Any]:
    request = _client_request(operation, params)
    labels: dict[str, str] = {}
    if operation.service_model.protocol.startswith("rest"):
        match = match_operation(operation.service_model, request)
        assert match is not None and match.operation.name == operation.name
        labels = match.labels
    return parse_request(operation, request, labels, "ValidationException")


def _client_parse(
    operation: OperationModel, output: dict[str, Any], status: int | None = None
) -> dict[str, Any]:
    response = serialize_response(operation, output, "req-1", status)
    body = response.body if isinstance(response.body, bytes) else b"".join(response.body)
    parser = parsers.create_parser(operation.service_model.protocol)
    parsed = parser.parse(
        {"status_code": response.status, "headers": response.headers, "body": body},
        operation.output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def test_json_input_and_output_round_trip() -> None:
    operation = _operation("rekognition", "DetectLabels")
    params = {
        "Image": {"Bytes": b"\x89PNG\x00\xff"},
        "MaxLabels": 5,
        "MinConfidence": 55.5,
        "Features": ["GENERAL_LABELS"],
        "Settings": {"GeneralLabels": {"LabelInclusionFilters": ["Cat"]}},
    }
    assert _round_trip_input(operation, params) == params
    output = {
        "Labels": [
            {
                "Name": "Cat",
                "Confidence": 98.5,
                "Parents": [{"Name": "Animal"}],
                "Instances": [
                    {
                        "BoundingBox": {"Width": 0.5, "Height": 0.25, "Left": 0.1, "Top": 0.2},
                        "Confidence": 90.0,
                    }
                ],
            }
        ],
        "LabelModelVersion": "3.0",
    }
    assert _client_parse(operation, output) == output


def test_json_timestamps_are_epoch_seconds() -> None:
    operation = _operation("rekognition", "DescribeCollection")
    output = {"FaceCount": 3, "FaceModelVersion": "6.0", "CollectionARN": "arn", "CreationTimestamp": WHEN}
    assert _client_parse(operation, output)["CreationTimestamp"] == WHEN


def test_rest_json_labels_headers_and_body() -> None:
    operation = _operation("lexv2-runtime", "RecognizeText")
    params = {
        "botId": "BOT1234567",
        "botAliasId": "TSTALIASID",
        "localeId": "en_US",
        "sessionId": "s-1.x:2",
        "text": "I want flowers",
        "sessionState": {"sessionAttributes": {"a": "b"}},
    }
    assert _round_trip_input(operation, params) == params


def test_rest_xml_streaming_headers_and_metadata() -> None:
    operation = _operation("s3", "PutObject")
    params = {
        "Bucket": "data",
        "Key": "dir/a b+c.txt",
        "Body": b"hello",
        "ContentType": "text/plain",
        "Metadata": {"owner": "ann"},
        "Expires": WHEN,
    }
    parsed = _round_trip_input(operation, params)
    assert parsed == params


def test_rest_xml_payload_structure() -> None:
    operation = _operation("s3", "CompleteMultipartUpload")
    params = {
        "Bucket": "b",
        "Key": "k",
        "UploadId": "u1",
        "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": '"e1"'}, {"PartNumber": 2, "ETag": '"e2"'}]},
    }
    assert _round_trip_input(operation, params) == params


def test_rest_xml_list_output_with_flattened_members() -> None:
    operation = _operation("s3", "ListObjectsV2")
    output = {
        "IsTruncated": False,
        "Name": "b",
        "Prefix": "p/",
        "KeyCount": 2,
        "MaxKeys": 1000,
        "Contents": [
            {"Key": "p/a&b", "Size": 3, "ETag": '"x"', "LastModified": WHEN, "StorageClass": "STANDARD"},
            {"Key": "p/c", "Size": 0, "ETag": '"y"', "LastModified": WHEN, "StorageClass": "STANDARD"},
        ],
        "CommonPrefixes": [{"Prefix": "p/d/"}],
    }
    assert _client_parse(operation, output) == output


def test_rest_xml_headers_output_and_status() -> None:
    operation = _operation("s3", "GetObject")
    output = {
        "Body": b"0123",
        "ContentLength": 4,
        "ContentRange": "bytes 0-3/10",
        "ETag": '"e"',
        "LastModified": WHEN,
        "Metadata": {"owner": "ann"},
        "ContentType": "text/plain",
    }
    parsed = _client_parse(operation, output, status=206)
    assert parsed.pop("Body") in (b"0123", "0123")  # over HTTP botocore wraps it in a StreamingBody
    assert parsed == {key: value for key, value in output.items() if key != "Body"}


def test_bucket_location_has_its_bare_root() -> None:
    # botocore reads this one response with a handler of its own: the root element's text.
    response = serialize_response(
        _operation("s3", "GetBucketLocation"), {"LocationConstraint": "eu-west-1"}, "r"
    )
    root = ElementTree.fromstring(response.body)
    assert root.tag.endswith("LocationConstraint") and root.text == "eu-west-1"


def test_query_input_and_output() -> None:
    operation = _operation("iam", "CreateUser")
    params = {"UserName": "ann", "Tags": [{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}]}
    assert _round_trip_input(operation, params) == params
    output = {
        "User": {
            "UserName": "ann",
            "UserId": "AIDA1",
            "Arn": "arn:aws:iam::1:user/ann",
            "Path": "/",
            "CreateDate": WHEN,
        }
    }
    assert _client_parse(operation, output) == output


@pytest.mark.parametrize("service", ["rekognition", "lexv2-runtime", "s3", "sts"])
def test_errors_parse_as_the_client_expects(service: str) -> None:
    model = load_service_model(service)
    response = serialize_error(model, AwsError("NoSuchThing", "it is not there", 404), "req-9")
    parser = parsers.create_parser(model.protocol)
    headers = {name.lower(): value for name, value in response.headers.items()}  # HTTP headers are case-blind
    parsed = parser.parse({"status_code": 404, "headers": headers, "body": response.body}, None)
    assert parsed["Error"]["Code"] == "NoSuchThing"
    assert parsed["Error"]["Message"] == "it is not there"


def test_validation_reports_every_problem_as_aws_does() -> None:
    operation = _operation("rekognition", "DetectLabels")
    request = HttpRequest("POST", "/", "", Headers(), body=b'{"MaxLabels": -1, "Features": ["NOPE"]}')
    with pytest.raises(AwsError) as caught:
        parse_request(operation, request, {}, "InvalidParameterException")
    assert caught.value.code == "InvalidParameterException"
    message = caught.value.message
    assert message.startswith("3 validation errors detected:")
    assert "Value null at 'image' failed to satisfy constraint: Member must not be null" in message
    assert "Value '-1' at 'maxLabels'" in message
    assert "Member must satisfy enum value set" in message


def test_wrong_json_types_are_serialization_errors() -> None:
    operation = _operation("rekognition", "DetectLabels")
    request = HttpRequest("POST", "/", "", Headers(), body=b'{"Image": {}, "MaxLabels": "ten"}')
    with pytest.raises(AwsError) as caught:
        parse_request(operation, request, {}, "InvalidParameterException")
    assert caught.value.code == "SerializationException"


def test_malformed_xml_is_refused_without_expanding_entities() -> None:
    operation = _operation("s3", "DeleteObjects")
    bomb = b'<!DOCTYPE d [<!ENTITY a "aaaa">]><Delete><Object><Key>&a;</Key></Object></Delete>'
    for body in (b"<Delete><Object>", bomb):
        request = HttpRequest("POST", "/b", "delete", Headers(), body=body)
        with pytest.raises(AwsError) as caught:
            parse_request(operation, request, {"Bucket": "b"}, "InvalidArgument")
        assert caught.value.code == "MalformedXML"
