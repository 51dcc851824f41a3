"""Where this Nimbus's registry answers (set at start): the host and port that image URIs,
``repositoryUri`` and ``docker login`` name. The registry has a port of its own, so no path of it can
collide with S3's (a bucket may be named ``v2``)."""

from __future__ import annotations

_registry = {"address": "127.0.0.1:4567", "scheme": "http"}


def serve_registry_at(address: str, secure: bool) -> None:
    _registry.update(address=address, scheme="https" if secure else "http")


def registry_address() -> str:
    """``host:port``, as image references carry it."""
    return _registry["address"]


def registry_endpoint() -> str:
    """The registry's URL (ECR's ``proxyEndpoint``)."""
    return f"{_registry['scheme']}://{_registry['address']}"
