"""The one error type every layer raises: an AWS error code, its HTTP status and a message.

The protocol layer turns it into each wire protocol's own error format.
"""

from __future__ import annotations


class AwsError(Exception):
    """An error as AWS reports it. ``fields`` become extra members of the error body
    (S3's ``<BucketName>``, ``<Key>``...); ``sender_fault`` picks Sender/Receiver in query errors."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields or {}
        self.headers = headers or {}

    @property
    def sender_fault(self) -> bool:
        return self.status < 500

    def __repr__(self) -> str:
        return f"AwsError({self.code!r}, {self.message!r}, {self.status})"


def internal_error(message: str = "We encountered an internal error. Please try again.") -> AwsError:
    return AwsError("InternalError", message, 500)


def not_implemented(service: str, operation: str) -> AwsError:
    return AwsError(
        "NotImplemented",
        f"{service} operation {operation} is not implemented by Nimbus; see docs/coverage.md.",
        501,
    )
