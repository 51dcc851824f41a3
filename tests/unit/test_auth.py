"""Request authentication against real signers: boto3 clients, botocore's signer classes and AWS's
own worked example. Requests are captured just before they would go on the wire and verified."""

from __future__ import annotations

import base64
import hmac
import io
import json
import os
import stat
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from nimbus.errors import AwsError
from nimbus.gateway.auth import check_post_policy_conditions, read_scope, verify, verify_post_policy
from nimbus.protocol.http import Headers, HttpRequest
from nimbus.storage.credentials import Credential, CredentialStore

ENDPOINT = "http://127.0.0.1:4566"
REPO_ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------
# Helpers: credentials, capturing what a client would send, and turning it into an HttpRequest
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return CredentialStore.open(tmp_path)


@pytest.fixture
def root(store: CredentialStore) -> Credential:
    return store.root()


class Captured(Exception):
    def __init__(self, request: AWSPreparedRequest) -> None:
        self.request = request


def _capture(request: AWSPreparedRequest, **_: Any) -> None:
    raise Captured(request)


def client(service: str, credential: Credential, endpoint: str = ENDPOINT, **config: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key=credential.secret_access_key,
        config=Config(retries={"max_attempts": 1}, **config),
    )


def sent_by(call: Callable[[], Any], aws_client: Any, stream: bool = False) -> HttpRequest:
    """The request a boto3 call would send, as the gateway sees it."""
    aws_client.meta.events.register("before-send", _capture)
    with pytest.raises(Captured) as captured:
        call()
    prepared = captured.value.request
    body = prepared.body
    data = body.read() if hasattr(body, "read") else (body or b"")
    data = data.encode() if isinstance(data, str) else data
    headers = [
        (name, value.decode() if isinstance(value, bytes) else value)
        for name, value in prepared.headers.items()
    ]
    return as_http(prepared.method, prepared.url, headers, data, stream)


def as_http(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes, stream: bool = False
) -> HttpRequest:
    split = urlsplit(url)
    if not any(name.lower() == "host" for name, _ in headers):
        headers = [*headers, ("host", split.netloc)]
    request = HttpRequest(method, split.path, split.query, Headers(headers))
    if stream:
        request.stream = io.BytesIO(body)
    else:
        request.body = body
    return request


def signed_with(signer: Any, request: AWSRequest, stream: bool = False) -> HttpRequest:
    signer.add_auth(request)
    prepared = request.prepare()
    body = prepared.body or b""
    return as_http(prepared.method, prepared.url, list(prepared.headers.items()), body, stream)


def botocore_credentials(credential: Credential) -> Credentials:
    return Credentials(credential.access_key_id, credential.secret_access_key)


def check(
    request: HttpRequest, store: CredentialStore, protocol: str, now: datetime | None = None
) -> Credential:
    scope = read_scope(request)
    assert scope is not None
    return verify(request, scope, store.lookup, now or datetime.now(UTC), protocol)


def error_of(call: Callable[[], Any]) -> AwsError:
    with pytest.raises(AwsError) as raised:
        call()
    return raised.value


def read_all(stream: Any, size: int = 1000) -> bytes:
    out = bytearray()
    while chunk := stream.read(size):
        out += chunk
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# The credential store
# ---------------------------------------------------------------------------------------------


def test_store_creates_a_private_root_key_on_first_open(tmp_path: Path) -> None:
    store = CredentialStore.open(tmp_path)
    root = store.root()
    mode = stat.S_IMODE(os.stat(tmp_path / "credentials.json").st_mode)
    assert mode == 0o600
    assert len(root.account_id) == 12 and root.account_id.isdigit()
    assert root.arn == f"arn:aws:iam::{root.account_id}:root"
    assert root.user_id == root.account_id and root.user_name == "root"
    assert root.access_key_id.startswith("AKIA") and len(root.access_key_id) == 20
    assert len(root.secret_access_key) == 40
    assert CredentialStore.open(tmp_path).root() == root  # persisted, not regenerated


def test_store_creates_lists_and_deletes_user_keys(store: CredentialStore, root: Credential) -> None:
    alice = store.create("alice")
    assert alice.arn == f"arn:aws:iam::{root.account_id}:user/alice"
    assert alice.user_id.startswith("AIDA") and len(alice.user_id) == 21 and alice.user_id.isupper()
    assert store.lookup(alice.access_key_id) == alice
    second = store.create("alice")
    assert second.user_id == alice.user_id and second.access_key_id != alice.access_key_id
    assert [cred.user_name for cred in store.list()] == ["root", "alice", "alice"]
    store.delete(alice.access_key_id)
    assert store.lookup(alice.access_key_id) is None
    with pytest.raises(KeyError):
        store.delete(alice.access_key_id)
    with pytest.raises(ValueError):
        store.delete(root.access_key_id)
    with pytest.raises(ValueError):
        store.create("not a name")


def test_store_sees_keys_another_process_writes(tmp_path: Path, store: CredentialStore) -> None:
    script = (
        "import sys; from pathlib import Path; from nimbus.storage.credentials import CredentialStore; "
        "print(CredentialStore.open(Path(sys.argv[1])).create('bob').access_key_id)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    access_key_id = result.stdout.strip()
    found = store.lookup(access_key_id)
    assert found is not None and found.user_name == "bob"
    assert stat.S_IMODE(os.stat(tmp_path / "credentials.json").st_mode) == 0o600


# ---------------------------------------------------------------------------------------------
# SigV4 in the Authorization header, from real clients
# ---------------------------------------------------------------------------------------------


def test_s3_request_from_boto3_verifies(store: CredentialStore, root: Credential) -> None:
    s3 = client("s3", root)
    request = sent_by(lambda: s3.list_objects_v2(Bucket="bucket", Prefix="a b/c+d", MaxKeys=5), s3)
    scope = read_scope(request)
    assert scope is not None and (scope.method, scope.signing_name, scope.region) == (
        "header-v4",
        "s3",
        "us-east-1",
    )
    assert check(request, store, "rest-xml") == root


def test_s3_put_with_odd_key_and_body_verifies(store: CredentialStore, root: Credential) -> None:
    s3 = client("s3", root)
    request = sent_by(
        lambda: s3.put_object(Bucket="bucket", Key="dir/ä ü+%20=.txt", Body=b"data"), s3, stream=True
    )
    assert check(request, store, "rest-xml") == root
    assert read_all(request.stream) == b"data"


def test_s3_rejects_unknown_key_bad_signature_and_skew(store: CredentialStore, root: Credential) -> None:
    s3 = client("s3", root)
    request = sent_by(lambda: s3.head_bucket(Bucket="bucket"), s3)

    stranger = Credential("AKIAUNKNOWNUNKNOWN00", "x" * 40, "1" * 12, "x", "arn", "x", datetime.now(UTC))
    stranger_s3 = client("s3", stranger)
    foreign = sent_by(lambda: stranger_s3.head_bucket(Bucket="bucket"), stranger_s3)
    assert error_of(lambda: check(foreign, store, "rest-xml")).code == "InvalidAccessKeyId"

    tampered = as_http("HEAD", f"{ENDPOINT}/other-bucket", list(request.headers.items()), b"")
    error = error_of(lambda: check(tampered, store, "rest-xml"))
    assert (error.code, error.status) == ("SignatureDoesNotMatch", 403)
    assert "CanonicalRequest" in error.fields

    later = datetime.now(UTC) + timedelta(minutes=16)
    error = error_of(lambda: check(request, store, "rest-xml", now=later))
    assert (error.code, error.status) == ("RequestTimeTooSkewed", 403)
    assert check(request, store, "rest-xml", now=datetime.now(UTC) + timedelta(minutes=14)) == root


def test_s3_body_that_does_not_match_its_hash_is_refused(store: CredentialStore, root: Credential) -> None:
    s3 = client("s3", root)
    request = sent_by(lambda: s3.put_bucket_tagging(Bucket="b", Tagging={"TagSet": []}), s3)
    request.headers = Headers([*request.headers.items()])
    request.body = request.body + b" "
    error = error_of(lambda: check(request, store, "rest-xml"))
    assert (error.code, error.status) == ("XAmzContentSHA256Mismatch", 400)


def test_s3_streamed_body_is_hashed_while_read(store: CredentialStore, root: Credential) -> None:
    body = os.urandom(200_000)
    aws_request = AWSRequest("PUT", f"{ENDPOINT}/bucket/key", data=body)
    request = signed_with(
        S3SigV4Auth(botocore_credentials(root), "s3", "us-east-1"), aws_request, stream=True
    )
    check(request, store, "rest-xml")
    assert read_all(request.stream, 7000) == body

    request = signed_with(
        S3SigV4Auth(botocore_credentials(root), "s3", "us-east-1"),
        AWSRequest("PUT", f"{ENDPOINT}/b/k", data=body),
    )
    request.stream, request.body = io.BytesIO(body[:-1] + b"!"), b""
    check(request, store, "rest-xml")
    assert request.stream is not None
    error = error_of(lambda: read_all(request.stream))
    assert error.code == "XAmzContentSHA256Mismatch"


def test_json_service_request_verifies_and_uses_json_error_codes(
    store: CredentialStore, root: Credential
) -> None:
    rekognition = client("rekognition", root)
    request = sent_by(lambda: rekognition.detect_labels(Image={"Bytes": b"\x89PNG"}), rekognition)
    assert read_scope(request).signing_name == "rekognition"  # type: ignore[union-attr]
    assert check(request, store, "json") == root

    tampered = as_http("POST", f"{ENDPOINT}/", list(request.headers.items()), request.body + b" ")
    error = error_of(lambda: check(tampered, store, "json"))
    assert (error.code, error.status) == ("InvalidSignatureException", 403)

    error = error_of(lambda: check(request, store, "json", now=datetime.now(UTC) + timedelta(minutes=16)))
    assert error.code == "InvalidSignatureException" and error.message.startswith("Signature expired")

    alice = store.create("alice")
    alice_client = client("rekognition", alice)
    alice_request = sent_by(lambda: alice_client.detect_labels(Image={"Bytes": b"x"}), alice_client)
    store.delete(alice.access_key_id)
    error = error_of(lambda: check(alice_request, store, "json"))
    assert (error.code, error.status) == ("UnrecognizedClientException", 400)


def test_rest_json_path_is_encoded_once_more_like_botocore(store: CredentialStore, root: Credential) -> None:
    lex = client("lexv2-runtime", root)
    request = sent_by(
        lambda: lex.recognize_text(
            botId="ABCDEFGHIJ", botAliasId="TSTALIASID", localeId="en_US", sessionId="s:1 x~y", text="hi"
        ),
        lex,
    )
    assert "%3A1%20x" in request.path
    assert check(request, store, "rest-json") == root


def test_query_service_request_verifies_and_uses_query_error_codes(
    store: CredentialStore, root: Credential
) -> None:
    sts = client("sts", root)
    request = sent_by(sts.get_caller_identity, sts)
    assert check(request, store, "query") == root
    error = error_of(lambda: check(request, store, "query", now=datetime.now(UTC) - timedelta(minutes=16)))
    assert error.code == "SignatureDoesNotMatch" and "Signature not yet current" in error.message
    store_without_root = lambda key: None  # noqa: E731
    scope = read_scope(request)
    assert scope is not None
    error = error_of(lambda: verify(request, scope, store_without_root, datetime.now(UTC), "query"))
    assert (error.code, error.status) == ("InvalidClientTokenId", 403)


def test_unsigned_and_malformed_requests(store: CredentialStore) -> None:
    assert read_scope(as_http("GET", f"{ENDPOINT}/bucket", [], b"")) is None
    s3_header = "AWS4-HMAC-SHA256 Credential=AKIA/20250101/us-east-1/s3/aws4_request, Signature=abc"
    error = error_of(lambda: read_scope(as_http("GET", f"{ENDPOINT}/b", [("Authorization", s3_header)], b"")))
    assert (error.code, error.status) == ("AuthorizationHeaderMalformed", 400)
    json_header = "AWS4-HMAC-SHA256 Credential=AKIA/20250101/rekognition, SignedHeaders=host, Signature=abc"
    error = error_of(
        lambda: read_scope(as_http("POST", f"{ENDPOINT}/", [("Authorization", json_header)], b""))
    )
    assert (error.code, error.status) == ("IncompleteSignatureException", 400)


# ---------------------------------------------------------------------------------------------
# Presigned URLs
# ---------------------------------------------------------------------------------------------


def test_presigned_v4_url_from_boto3(store: CredentialStore, root: Credential) -> None:
    s3 = client("s3", root, signature_version="s3v4")
    url = s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": "bucket", "Key": "a b/c+d.txt", "ResponseContentType": "text/plain"},
        ExpiresIn=600,
    )
    request = as_http("GET", url, [], b"")
    assert read_scope(request).method == "presigned-v4"  # type: ignore[union-attr]
    assert check(request, store, "rest-xml") == root

    error = error_of(
        lambda: check(request, store, "rest-xml", now=datetime.now(UTC) + timedelta(seconds=601))
    )
    assert (error.code, error.status, error.message) == ("AccessDenied", 403, "Request has expired")

    tampered = as_http("GET", url.replace("text%2Fplain", "text%2Fhtml"), [], b"")
    assert error_of(lambda: check(tampered, store, "rest-xml")).code == "SignatureDoesNotMatch"


def test_presigned_v4_longer_than_a_week_is_refused(store: CredentialStore, root: Credential) -> None:
    signer = S3SigV4QueryAuth(botocore_credentials(root), "s3", "us-east-1", expires=604801)
    request = signed_with(signer, AWSRequest("GET", f"{ENDPOINT}/bucket/key"))
    error = error_of(lambda: check(request, store, "rest-xml"))
    assert (error.code, error.status) == ("AuthorizationQueryParametersError", 400)


def test_presigned_v4_for_a_non_s3_service(store: CredentialStore, root: Credential) -> None:
    sts = client("sts", root)
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60)
    # boto3 signs the operation's own method (POST); the form parameters move into the URL.
    assert check(as_http("POST", url, [], b""), store, "query") == root


def test_presigned_v2_url_from_boto3_and_botocore(store: CredentialStore, root: Credential) -> None:
    s3 = client("s3", root, signature_version="s3")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "bucket", "Key": "k y", "ResponseContentDisposition": "inline"}
    )
    request = as_http("GET", url, [], b"")
    assert read_scope(request).method == "presigned-v2"  # type: ignore[union-attr]
    assert check(request, store, "rest-xml") == root
    error = error_of(lambda: check(request, store, "rest-xml", now=datetime.now(UTC) + timedelta(hours=2)))
    assert (error.code, error.message) == ("AccessDenied", "Request has expired")

    upload = AWSRequest(
        "PUT", f"{ENDPOINT}/bucket/key?uploadId=abc&partNumber=2", headers={"x-amz-meta-a": "1"}
    )
    request = signed_with(HmacV1QueryAuth(botocore_credentials(root), expires=60), upload)
    assert check(request, store, "rest-xml") == root
    tampered = as_http(
        "PUT", f"{ENDPOINT}/bucket/key?uploadId=abc&partNumber=3&" + request.query_string, [], b""
    )
    assert error_of(lambda: check(tampered, store, "rest-xml")).code == "SignatureDoesNotMatch"


def test_header_v2_from_botocore(store: CredentialStore, root: Credential) -> None:
    aws_request = AWSRequest(
        "PUT", f"{ENDPOINT}/bucket/key?tagging", data=b"<Tagging/>", headers={"Content-Type": "text/xml"}
    )
    request = signed_with(HmacV1Auth(botocore_credentials(root)), aws_request)
    assert read_scope(request).method == "header-v2"  # type: ignore[union-attr]
    assert check(request, store, "rest-xml") == root
    error = error_of(lambda: check(request, store, "rest-xml", now=datetime.now(UTC) + timedelta(minutes=16)))
    assert error.code == "RequestTimeTooSkewed"
    request.headers = Headers([*request.headers.items(), ("x-amz-acl", "public-read")])
    assert error_of(lambda: check(request, store, "rest-xml")).code == "SignatureDoesNotMatch"


# ---------------------------------------------------------------------------------------------
# aws-chunked payloads
# ---------------------------------------------------------------------------------------------

EXAMPLE_KEY = Credential(
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "111122223333",
    "example",
    "arn:aws:iam::111122223333:user/example",
    "AIDAEXAMPLEEXAMPLE000",
    datetime(2013, 5, 24, tzinfo=UTC),
)
EXAMPLE_TIME = datetime(2013, 5, 24, tzinfo=UTC)
EXAMPLE_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"


def _chunk_signer(seed: str) -> Iterator[str]:
    """Yields the signature of each chunk sent to it (AWS4-HMAC-SHA256-PAYLOAD), chained from the seed."""
    key = _example_signing_key()
    previous = seed
    data = yield ""
    while True:
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                "20130524T000000Z",
                "20130524/us-east-1/s3/aws4_request",
                previous,
                sha256(b"").hexdigest(),
                sha256(data).hexdigest(),
            ]
        )
        previous = hmac.new(key, to_sign.encode(), sha256).hexdigest()
        data = yield previous


def _example_signing_key() -> bytes:
    key = f"AWS4{EXAMPLE_KEY.secret_access_key}".encode()
    for part in ("20130524", "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), sha256).digest()
    return key


def _signed_chunks(payload: bytes, chunk_size: int, seed: str) -> tuple[bytes, list[str], str]:
    """The aws-chunked body up to and including the final chunk's header line, its chunk signatures,
    and the final chunk's signature."""
    signer = _chunk_signer(seed)
    next(signer)
    body, signatures = bytearray(), []
    for start in range(0, len(payload), chunk_size):
        data = payload[start : start + chunk_size]
        signature = signer.send(data)
        signatures.append(signature)
        body += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(data), signature.encode(), data)
    final = signer.send(b"")
    body += b"0;chunk-signature=%s\r\n" % final.encode()
    return bytes(body), signatures, final


def _example_request(
    body: bytes, content_sha256: str, extra_headers: list[tuple[str, str]], content_length: str = "66824"
) -> HttpRequest:
    """The PUT of AWS's worked example ("Transferring Payload in Multiple Chunks"). Content-Length is
    signed, so the seed signature (and every chunk's) depends on it; the example's is the default."""
    headers = [
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("Content-Length", content_length),
        ("x-amz-content-sha256", content_sha256),
        *extra_headers,
    ]
    names = sorted(name.lower() for name, _ in headers)
    values = dict((name.lower(), value) for name, value in headers)
    canonical = "\n".join(
        [
            "PUT",
            "/examplebucket/chunkObject.txt",
            "",
            "".join(f"{name}:{values[name]}\n" for name in names),
            ";".join(names),
            content_sha256,
        ]
    )
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            sha256(canonical.encode()).hexdigest(),
        ]
    )
    seed = hmac.new(_example_signing_key(), to_sign.encode(), sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        f"SignedHeaders={';'.join(names)}, Signature={seed}"
    )
    request = HttpRequest(
        "PUT", "/examplebucket/chunkObject.txt", "", Headers([*headers, ("Authorization", authorization)])
    )
    request.stream = io.BytesIO(body)
    return request


def _example_lookup(access_key_id: str) -> Credential | None:
    return EXAMPLE_KEY if access_key_id == EXAMPLE_KEY.access_key_id else None


def _verify_example(request: HttpRequest) -> None:
    scope = read_scope(request)
    assert scope is not None
    verify(request, scope, _example_lookup, EXAMPLE_TIME, "rest-xml")


def test_aws_worked_example_of_signed_chunks() -> None:
    payload = b"a" * 66560
    body, signatures, final = _signed_chunks(payload, 65536, EXAMPLE_SEED)
    body += b"\r\n"
    request = _example_request(body, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", [])
    assert request.headers["authorization"].endswith(EXAMPLE_SEED)  # the seed signature AWS documents
    assert signatures == [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    ]
    assert final == "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
    assert len(body) == 66824  # the example's Content-Length
    _verify_example(request)
    assert read_all(request.stream, 4096) == payload


def test_tampered_chunk_is_refused_before_eof() -> None:
    body, _, _ = _signed_chunks(b"a" * 66560, 65536, EXAMPLE_SEED)
    tampered = body.replace(b"a" * 10, b"a" * 9 + b"b", 1) + b"\r\n"
    request = _example_request(tampered, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", [])
    _verify_example(request)
    error = error_of(lambda: read_all(request.stream))
    assert (error.code, error.status) == ("SignatureDoesNotMatch", 403)


def test_truncated_or_short_chunked_bodies_are_incomplete() -> None:
    body, _, _ = _signed_chunks(b"a" * 66560, 65536, EXAMPLE_SEED)
    request = _example_request(body[:66000], "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", [])
    _verify_example(request)
    assert error_of(lambda: read_all(request.stream)).code == "IncompleteBody"

    probe = _example_request(b"", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", [], content_length="1000")
    short, _, _ = _signed_chunks(b"a" * 1000, 65536, probe.headers["authorization"].rsplit("=", 1)[1])
    request = _example_request(
        short + b"\r\n", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", [], content_length="1000"
    )
    _verify_example(request)
    assert error_of(lambda: read_all(request.stream)).code == "IncompleteBody"


def _signed_trailer(previous: str, trailers: str) -> str:
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256-TRAILER",
            "20130524T000000Z",
            "20130524/us-east-1/s3/aws4_request",
            previous,
            sha256(trailers.encode()).hexdigest(),
        ]
    )
    return hmac.new(_example_signing_key(), to_sign.encode(), sha256).hexdigest()


def test_signed_chunks_with_a_signed_trailer() -> None:
    payload = b"a" * 66560
    checksum = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    content_sha256 = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    trailer_header = [("x-amz-trailer", "x-amz-checksum-crc32")]
    probe = _example_request(b"", content_sha256, trailer_header, content_length="")
    seed = probe.headers["authorization"].rsplit("=", 1)[1]

    def build(value: str) -> HttpRequest:
        body, _, final = _signed_chunks(payload, 65536, seed)
        trailer_signature = _signed_trailer(final, f"x-amz-checksum-crc32:{checksum}\n")
        body += (
            f"x-amz-checksum-crc32:{value}\r\nx-amz-trailer-signature:{trailer_signature}\r\n\r\n".encode()
        )
        request = _example_request(body, content_sha256, trailer_header, content_length="")
        _verify_example(request)
        return request

    request = build(checksum)
    assert read_all(request.stream, 65536) == payload
    assert request.stream.trailers == {"x-amz-checksum-crc32": checksum}  # type: ignore[union-attr]
    tampered = build("AAAAAA==")
    assert error_of(lambda: read_all(tampered.stream)).code == "SignatureDoesNotMatch"


def test_unsigned_trailer_body_from_boto3(store: CredentialStore, root: Credential) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)  # several of botocore's 1 MiB chunks
    s3 = client("s3", root, endpoint="https://127.0.0.1:4566")
    request = sent_by(lambda: s3.put_object(Bucket="b", Key="k", Body=io.BytesIO(payload)), s3, stream=True)
    assert request.headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert check(request, store, "rest-xml") == root
    assert read_all(request.stream, 100_000) == payload
    expected = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    assert request.stream.trailers == {"x-amz-checksum-crc32": expected}  # type: ignore[union-attr]


def test_aws_chunked_body_of_a_buffered_operation_is_decoded(
    store: CredentialStore, root: Credential
) -> None:
    payload = b"hello world"
    s3 = client("s3", root, endpoint="https://127.0.0.1:4566")
    request = sent_by(
        lambda: s3.upload_part(Bucket="b", Key="k", UploadId="u", PartNumber=1, Body=payload), s3
    )
    check(request, store, "rest-xml")
    assert request.body == payload


# ---------------------------------------------------------------------------------------------
# Browser-form POST policies
# ---------------------------------------------------------------------------------------------


def _presigned_post(credential: Credential, signature_version: str, **kwargs: Any) -> dict[str, str]:
    s3 = client("s3", credential, signature_version=signature_version)
    post = s3.generate_presigned_post(Bucket="bucket", ExpiresIn=3600, **kwargs)
    return post["fields"]


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_post_policy_from_boto3(store: CredentialStore, root: Credential, signature_version: str) -> None:
    fields = _presigned_post(
        root,
        signature_version,
        Key="uploads/${filename}",
        Fields={"success_action_status": "201", "Content-Type": "image/png"},
        Conditions=[
            ["starts-with", "$key", "uploads/"],
            {"success_action_status": "201"},
            {"Content-Type": "image/png"},
            ["content-length-range", 1, 1000],
        ],
    )
    form = {**fields, "key": "uploads/cat.png", "bucket": "bucket"}
    credential, policy = verify_post_policy(form, store.lookup, datetime.now(UTC))
    assert credential == root
    check_post_policy_conditions(policy, form, content_length=10)

    assert error_of(lambda: check_post_policy_conditions(policy, form, 1001)).code == "EntityTooLarge"
    assert error_of(lambda: check_post_policy_conditions(policy, form, 0)).code == "EntityTooSmall"
    wrong_type = {**form, "Content-Type": "text/html"}
    error = error_of(lambda: check_post_policy_conditions(policy, wrong_type, 10))
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert "Policy Condition failed" in error.message
    extra = {**form, "acl": "public-read", "x-ignore-me": "ok"}
    error = error_of(lambda: check_post_policy_conditions(policy, extra, 10))
    assert error.code == "AccessDenied" and "acl" in error.message
    wrong_key = {**form, "key": "elsewhere/cat.png"}
    assert error_of(lambda: check_post_policy_conditions(policy, wrong_key, 10)).code == "AccessDenied"


def test_post_policy_rejections(store: CredentialStore, root: Credential) -> None:
    fields = _presigned_post(root, "s3v4", Key="k")
    later = datetime.now(UTC) + timedelta(hours=2)
    error = error_of(lambda: verify_post_policy(fields, store.lookup, later))
    assert (error.code, error.message) == ("AccessDenied", "Invalid according to Policy: Policy expired.")

    tampered = {**fields, "x-amz-signature": "0" * 64}
    assert error_of(lambda: verify_post_policy(tampered, store.lookup, datetime.now(UTC))).code == (
        "SignatureDoesNotMatch"
    )
    assert error_of(lambda: verify_post_policy(fields, lambda key: None, datetime.now(UTC))).code == (
        "InvalidAccessKeyId"
    )
    garbage = {**fields, "policy": base64.b64encode(b"{not json").decode()}
    assert error_of(lambda: verify_post_policy(garbage, store.lookup, datetime.now(UTC))).code == (
        "InvalidPolicyDocument"
    )
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"key": "k"} in policy["conditions"]
