"""Reading who signed a request, and how, before anything is verified.

The gateway uses the scope to pick the target service (its signing name) and the region; the
parsed pieces below are what ``verify`` checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from nimbus.gateway.auth.errors import AuthErrors
from nimbus.protocol.http import HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
SIGV2_REGION = "us-east-1"
PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
    "X-Amz-Expires",
)


@dataclass(frozen=True)
class SigningScope:
    access_key_id: str
    signing_name: str  # "s3", "sts", "rekognition"...; "s3" for SigV2
    region: str  # SigV2 names none: "us-east-1", where S3 places region-less requests
    method: str  # "header-v4" | "presigned-v4" | "presigned-v2" | "header-v2"


@dataclass(frozen=True)
class CredentialScope:
    """``AKID/20250101/us-east-1/s3/aws4_request``, split."""

    access_key_id: str
    date: str
    region: str
    service: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class V4Signature:
    """What a SigV4 request claims: from the Authorization header or the presigned query."""

    credential: CredentialScope
    signed_headers: list[str]
    signature: str


def read_scope(request: HttpRequest) -> SigningScope | None:
    authorization = request.headers.get("authorization")
    if authorization:
        return _scope_from_authorization(authorization)
    if "X-Amz-Algorithm" in request.query or "X-Amz-Credential" in request.query:
        credential = read_presigned_v4(request).credential
        return SigningScope(credential.access_key_id, credential.service, credential.region, "presigned-v4")
    if "AWSAccessKeyId" in request.query and "Signature" in request.query:
        return SigningScope(request.query["AWSAccessKeyId"][0], "s3", SIGV2_REGION, "presigned-v2")
    return None


def _scope_from_authorization(authorization: str) -> SigningScope:
    if authorization.startswith("AWS "):
        access_key_id, _ = read_header_v2(authorization)
        return SigningScope(access_key_id, "s3", SIGV2_REGION, "header-v2")
    credential = read_header_v4(authorization).credential
    return SigningScope(credential.access_key_id, credential.service, credential.region, "header-v4")


def read_header_v4(authorization: str) -> V4Signature:
    """``AWS4-HMAC-SHA256 Credential=..., SignedHeaders=a;b, Signature=hex``."""
    algorithm, _, rest = authorization.strip().partition(" ")
    parts: dict[str, str] = {}
    for component in rest.split(","):
        name, equals, value = component.strip().partition("=")
        if equals:
            parts[name] = value
    errors = AuthErrors.for_signing_name(_guess_signing_name(parts.get("Credential", "")))
    if algorithm != ALGORITHM:
        raise errors.malformed(f"Unsupported Authorization Type {algorithm!r}; expected {ALGORITHM}.")
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not parts.get(name)]
    if missing:
        raise errors.malformed(
            f"Authorization header requires '{missing[0]}' parameter. Authorization={authorization}"
        )
    return V4Signature(
        credential=_parse_credential(parts["Credential"], errors, presigned=False),
        signed_headers=parts["SignedHeaders"].split(";"),
        signature=parts["Signature"],
    )


def read_presigned_v4(request: HttpRequest) -> V4Signature:
    credential_text = request.query_value("X-Amz-Credential") or ""
    errors = AuthErrors.for_signing_name(_guess_signing_name(credential_text))
    if any(not request.query_value(name) for name in PRESIGN_PARAMS):
        raise errors.malformed(
            "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
            "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
            presigned=True,
        )
    if request.query_value("X-Amz-Algorithm") != ALGORITHM:
        raise errors.malformed(f'X-Amz-Algorithm only supports "{ALGORITHM}"', presigned=True)
    return V4Signature(
        credential=_parse_credential(credential_text, errors, presigned=True),
        signed_headers=(request.query_value("X-Amz-SignedHeaders") or "").split(";"),
        signature=request.query_value("X-Amz-Signature") or "",
    )


def read_header_v2(authorization: str) -> tuple[str, str]:
    """``AWS AKID:base64-signature`` -> (access key id, signature)."""
    access_key_id, colon, signature = authorization[len("AWS ") :].strip().partition(":")
    if not colon or not access_key_id or not signature:
        raise AuthErrors("s3").malformed(
            "The authorization header is malformed; expected 'AWS AKID:signature'."
        )
    return access_key_id, signature


def _parse_credential(text: str, errors: AuthErrors, presigned: bool) -> CredentialScope:
    parts = text.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise errors.malformed(
            f'The credential is malformed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request". '
            f"Credential={text}",
            presigned=presigned,
        )
    return CredentialScope(access_key_id=parts[0], date=parts[1], region=parts[2], service=parts[3])


def _guess_signing_name(credential: str) -> str:
    """The service in a credential that may itself be malformed, to word the error for it."""
    parts = credential.split("/")
    return parts[3] if len(parts) > 3 else ""
