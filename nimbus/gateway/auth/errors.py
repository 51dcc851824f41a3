"""The errors a failed authentication raises, in the codes each AWS protocol family uses.

S3 (rest-xml) has its own vocabulary; the json and rest-json services share one; the query
services (STS, IAM) another. The messages are AWS's own, so SDKs and users recognise them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from nimbus.errors import AwsError

MAX_SKEW = timedelta(minutes=15)
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_S3_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
_INVALID_TOKEN = "The security token included in the request is invalid."
_QUERY_SIGNING_NAMES = frozenset({"sts", "iam"})


@dataclass(frozen=True)
class AuthErrors:
    style: str  # "s3" | "json" | "query"

    @classmethod
    def for_protocol(cls, protocol: str) -> AuthErrors:
        if protocol == "rest-xml":
            return cls("s3")
        return cls("query" if protocol in ("query", "ec2") else "json")

    @classmethod
    def for_signing_name(cls, signing_name: str) -> AuthErrors:
        """For errors found before the target service is known (a malformed signature)."""
        if signing_name == "s3":
            return cls("s3")
        return cls("query" if signing_name in _QUERY_SIGNING_NAMES else "json")

    @property
    def is_s3(self) -> bool:
        return self.style == "s3"

    def unknown_key(self, access_key_id: str) -> AwsError:
        if self.is_s3:
            return AwsError(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
                403,
                fields={"AWSAccessKeyId": access_key_id},
            )
        if self.style == "query":
            return AwsError("InvalidClientTokenId", _INVALID_TOKEN, 403)
        return AwsError("UnrecognizedClientException", _INVALID_TOKEN, 400)

    def signature_mismatch(
        self, access_key_id: str, string_to_sign: str, provided: str, canonical_request: str = ""
    ) -> AwsError:
        if not self.is_s3:
            code = "SignatureDoesNotMatch" if self.style == "query" else "InvalidSignatureException"
            return AwsError(code, _SIGNATURE_MISMATCH, 403)
        # S3 shows what it signed, so a user can compare with what the client signed.
        fields = {
            "AWSAccessKeyId": access_key_id,
            "StringToSign": string_to_sign,
            "SignatureProvided": provided,
        }
        if canonical_request:
            fields["CanonicalRequest"] = canonical_request
        return AwsError("SignatureDoesNotMatch", _S3_SIGNATURE_MISMATCH, 403, fields=fields)

    def time_skewed(self, request_time: datetime, now: datetime) -> AwsError:
        if self.is_s3:
            return AwsError(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
                403,
                fields={
                    "RequestTime": _iso(request_time),
                    "ServerTime": _iso(now),
                    "MaxAllowedSkewMilliseconds": str(int(MAX_SKEW.total_seconds() * 1000)),
                },
            )
        if request_time < now:
            message = (
                f"Signature expired: {_amz(request_time)} is now earlier than "
                f"{_amz(now - MAX_SKEW)} ({_amz(now)} - 15 min.)"
            )
        else:
            message = (
                f"Signature not yet current: {_amz(request_time)} is still later than "
                f"{_amz(now + MAX_SKEW)} ({_amz(now)} + 15 min.)"
            )
        return AwsError(self._signature_code(), message, 403)

    def presign_expired(self, expires_at: datetime, now: datetime) -> AwsError:
        if self.is_s3:
            return AwsError(
                "AccessDenied",
                "Request has expired",
                403,
                fields={"Expires": _iso(expires_at), "ServerTime": _iso(now)},
            )
        message = f"Signature expired: {_amz(expires_at)} is now earlier than {_amz(now)}"
        return AwsError(self._signature_code(), message, 403)

    def malformed(self, message: str, presigned: bool = False) -> AwsError:
        if self.is_s3:
            code = "AuthorizationQueryParametersError" if presigned else "AuthorizationHeaderMalformed"
            return AwsError(code, message, 400)
        code = "IncompleteSignature" if self.style == "query" else "IncompleteSignatureException"
        return AwsError(code, message, 400)

    def missing_date(self) -> AwsError:
        message = "AWS authentication requires a valid Date or x-amz-date header"
        if self.is_s3:
            return AwsError("AccessDenied", message, 403)
        return self.malformed(message)

    def invalid_request(self, message: str) -> AwsError:
        return AwsError("InvalidRequest" if self.is_s3 else self.malformed(message).code, message, 400)

    def payload_mismatch(self, claimed: str, computed: str) -> AwsError:
        if self.is_s3:
            return AwsError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
                fields={"ClientComputedContentSHA256": claimed, "S3ComputedContentSHA256": computed},
            )
        return AwsError(self._signature_code(), _SIGNATURE_MISMATCH, 403)

    def _signature_code(self) -> str:
        return "SignatureDoesNotMatch" if self.style in ("s3", "query") else "InvalidSignatureException"


def incomplete_body(message: str = "The request body terminated unexpectedly") -> AwsError:
    return AwsError("IncompleteBody", message, 400)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _amz(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")
