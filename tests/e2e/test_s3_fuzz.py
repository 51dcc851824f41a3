"""Fuzzing S3's request path: no input may get a 5xx answer or an uncaught exception in the server.

Two families: Hypothesis inputs built from botocore's own shapes of every S3 operation Nimbus
serves (sent through boto3 with its parameter validation off), and raw byte mutations of valid
requests (headers, XML bodies, browser-form bodies, aws-chunked framing, Range headers), signed
so that the mutated parts are not covered by the signature and reach the parsers behind it.

CI runs a fixed small budget; ``bench/run.sh s3-fuzz`` runs the same with NIMBUS_FUZZ_EXAMPLES raised.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import botocore.config
import pytest
from botocore import xform_name
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.model import Shape
from conftest import NimbusServer, raw_request, unique_bucket_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nimbus.services.s3 import s3 as s3_service

EXAMPLES = int(os.environ.get("NIMBUS_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("NIMBUS_FUZZ_EXAMPLES") is None,  # CI: the same inputs every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Operations that would end the fuzzing bucket or leave it unusable for the rest of the run.
SPARED = {"DeleteBucket"}
UNHANDLED = re.compile(r"unhandled error|Traceback \(most recent call last\)")


@pytest.fixture(scope="module")
def target(nimbus: NimbusServer) -> dict[str, Any]:
    """A bucket with an object and a multipart upload in it, and the log's length before fuzzing."""
    s3 = nimbus.client("s3", config=botocore.config.Config(parameter_validation=False))
    bucket = unique_bucket_name("fuzz")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="object", Body=b"0123456789" * 100)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="upload")["UploadId"]
    return {
        "s3": s3,
        "bucket": bucket,
        "key": "object",
        "upload_id": upload_id,
        "log_start": len(nimbus.log_text()),
    }


def _no_server_error(status: int, what: str) -> None:
    assert status < 500 or status == 501, f"{what} answered {status}"


# ---- inputs from botocore's shapes -------------------------------------------------------------


# What an XML 1.0 answer can carry: S3 (and so botocore) needs EncodingType=url for keys with control
# characters, and a listing that echoes one cannot be parsed by any client, from AWS or from Nimbus.
XML_CHARACTERS = st.characters(exclude_categories=("Cs", "Cc"), include_characters="\t\n\r")


def _strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return st.just({})
        members = {name: _strategy(member, depth + 1) for name, member in shape.members.items()}
        required = {name: members.pop(name) for name in shape.required_members if name in members}
        return st.fixed_dictionaries(required, optional=members)
    if kind == "list":
        return st.lists(_strategy(shape.member, depth + 1), max_size=3)
    if kind == "map":
        return st.dictionaries(
            st.text(XML_CHARACTERS, max_size=8), _strategy(shape.value, depth + 1), max_size=3
        )
    if kind == "string":
        enum = shape.metadata.get("enum")
        text = st.text(XML_CHARACTERS, max_size=40)
        return st.one_of(st.sampled_from(enum), text) if enum else text
    if kind in ("integer", "long"):
        return st.integers(min_value=-(2**40), max_value=2**40)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes()
    if kind == "blob":
        return st.binary(max_size=64)
    return st.floats(allow_nan=False)


@dataclass(frozen=True)
class Existing:
    """Stands for something the ``target`` fixture made (Hypothesis draws before fixtures exist)."""

    name: str


EXISTING = {"Bucket": Existing("bucket"), "Key": Existing("key"), "UploadId": Existing("upload_id")}
SERVED = sorted(name for name in s3_service.operations if name not in SPARED)


@st.composite
def _calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(SERVED))
    shape = s3_service.model.operation_model(name).input_shape
    params = draw(_strategy(shape)) if shape is not None else {}
    # aim most calls at things that exist, so the fuzzing reaches past NoSuchBucket
    for member in EXISTING:
        if shape is not None and member in shape.members and draw(st.integers(0, 4)):
            params[member] = EXISTING[member]
    return name, params


@FUZZ
@given(call=_calls())
def test_botocore_shaped_inputs(target: dict[str, Any], call: tuple[str, dict[str, Any]]) -> None:
    name, params = call
    params = {
        member: target[value.name] if isinstance(value, Existing) else value
        for member, value in params.items()
    }
    try:
        getattr(target["s3"], xform_name(name))(**params)
    except ClientError as error:
        _no_server_error(error.response["ResponseMetadata"]["HTTPStatusCode"], f"{name}({params!r})")
    except (BotoCoreError, ValueError, TypeError, UnicodeError, OverflowError):
        pass  # botocore could not build or read this request: nothing reached the server's logic


# ---- raw byte mutations ------------------------------------------------------------------------


class _HeadersOnlySigner(S3SigV4Auth):
    """SigV4 over the host and date alone, with an unsigned payload: the fuzzed headers and body are
    not what the signature covers, so a mutation reaches the code behind the signature check."""

    def payload(self, request: AWSRequest) -> str:
        return "UNSIGNED-PAYLOAD"

    def headers_to_sign(self, request: AWSRequest) -> Any:
        signed = super().headers_to_sign(request)
        for name in list(signed.keys()):
            if name not in ("host", "x-amz-date", "x-amz-content-sha256"):
                del signed[name]
        return signed


def _send(
    nimbus: NimbusServer, method: str, path: str, headers: dict[str, str], body: bytes, signed: bool = True
) -> int:
    if signed:
        request = AWSRequest(method=method, url=nimbus.endpoint_url + path, data=b"", headers={})
        _HeadersOnlySigner(Credentials(nimbus.access_key, nimbus.secret_key), "s3", nimbus.region).add_auth(
            request
        )
        headers = {**dict(request.headers.items()), **headers}
    return raw_request(nimbus, method, path, headers=headers, body=body).status


def _mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Each edit: at a position (modulo the length), delete some bytes and insert others."""
    out = bytearray(data)
    for position, removed, inserted in edits:
        at = position % (len(out) + 1)
        out[at : at + removed] = inserted
    return bytes(out)


EDITS = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.binary(max_size=8)), min_size=1, max_size=6
)
FUZZED_HEADERS = [
    "Range", "If-Match", "If-Modified-Since", "Content-MD5", "x-amz-checksum-crc32", "x-amz-checksum-mode",
    "x-amz-copy-source", "x-amz-copy-source-range", "x-amz-tagging", "x-amz-meta-a", "Content-Type",
    "x-amz-decoded-content-length", "x-amz-checksum-algorithm", "Expires", "x-amz-mp-object-size",
]  # fmt: skip
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60)

DELETE_XML = b"<Delete><Object><Key>object</Key></Object><Quiet>true</Quiet></Delete>"
COMPLETE_XML = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>" + (
    b"</CompleteMultipartUpload>"
)
TAGGING_XML = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
CHUNKED = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"
FORM = (
    b'--B\r\nContent-Disposition: form-data; name="key"\r\n\r\nk\r\n'
    b'--B\r\nContent-Disposition: form-data; name="policy"; filename="p"\r\n\r\neyJ9\r\n'
    b'--B\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\ndata\r\n--B--\r\n'
)


@FUZZ
@given(
    kind=st.sampled_from(["delete", "complete", "tagging", "chunked", "form"]),
    edits=EDITS,
)
def test_mutated_bodies(nimbus: NimbusServer, target: dict[str, Any], kind: str, edits: list) -> None:
    bucket, upload_id = target["bucket"], target["upload_id"]
    requests_by_kind: dict[str, tuple[str, str, dict[str, str], bytes]] = {
        "delete": ("POST", f"/{bucket}?delete", {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, DELETE_XML),
        "complete": ("POST", f"/{bucket}/upload?uploadId={upload_id}", {}, COMPLETE_XML),
        "tagging": ("PUT", f"/{bucket}/object?tagging", {}, TAGGING_XML),
        "chunked": (
            "PUT",
            f"/{bucket}/chunked",
            {
                "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                "Content-Encoding": "aws-chunked",
                "x-amz-trailer": "x-amz-checksum-crc32",
                "x-amz-decoded-content-length": "5",
            },
            CHUNKED,
        ),
        "form": ("POST", f"/{bucket}", {"Content-Type": "multipart/form-data; boundary=B"}, FORM),
    }
    method, path, headers, body = requests_by_kind[kind]
    mutated = _mutate(body, edits)
    signed = kind != "form"  # a browser form carries its own (policy) signature
    _no_server_error(_send(nimbus, method, path, headers, mutated, signed), f"{kind} body {mutated!r}")


@FUZZ
@given(
    name=st.sampled_from(FUZZED_HEADERS),
    value=st.one_of(
        HEADER_TEXT, st.from_regex(r"bytes=-?[0-9]{0,12}-?[0-9]{0,12}(,[0-9]*-[0-9]*)?", fullmatch=True)
    ),
    method=st.sampled_from(["GET", "HEAD", "PUT"]),
)
def test_mutated_headers(
    nimbus: NimbusServer, target: dict[str, Any], name: str, value: str, method: str
) -> None:
    bucket = target["bucket"]
    body = b"payload" if method == "PUT" else b""
    status = _send(nimbus, method, f"/{bucket}/object", {name: value}, body)
    _no_server_error(status, f"{method} with {name}: {value!r}")


def test_server_logged_no_uncaught_exception(nimbus: NimbusServer, target: dict[str, Any]) -> None:
    """Runs after the fuzzing above (pytest keeps file order): nothing in the log since it began."""
    logged = nimbus.log_text()[target["log_start"] :]
    found = UNHANDLED.search(logged)
    assert found is None, logged[max(0, found.start() - 2000) : found.start() + 4000] if found else ""
