"""The URL clients reach this Nimbus at, for links that services hand out (SNS's SubscribeURL and
SigningCertURL, Kinesis Video's HLS and DASH session URLs)."""

from __future__ import annotations

from urllib.parse import urlsplit

from nimbus.services.sts.role_credentials import served_at


def public_url(host: str) -> str:
    """As the caller reached it (its Host header), else as the server was started."""
    served = served_at()
    return f"{urlsplit(served).scheme}://{host}" if host else served
